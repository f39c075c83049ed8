"""Live updates: one poller of `queue.version()` per bridge process, and the console WebSocket.

The version row lives in the database, so a change made by any bridge process (a call enqueued,
taken elsewhere, a callback closed) shows in every console within a poll interval. One task per
process reads it while at least one console is connected; each console's socket then sends its
user a fresh snapshot when the version moves.

Messages, server to browser (JSON text frames):
- {"type": "snapshot", ...} (telephony_bridge.console.views.snapshot) on connect and on change;
- {"type": "expired"} before closing with code 4401 when the session ended.
Browser to server: {"type": "ping"} (ignored: any frame proves the page is alive).
Close codes: 4401 no or expired session, 4403 not from the console's origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from telephony_bridge.console.guard import Guard, same_origin
from telephony_bridge.console.ports import COOKIE_NAME, ConsoleQueue, ConsoleSettings
from telephony_bridge.console.views import snapshot
from voicebot.store.database import StoreError
from voicebot.store.users import UserStore

log = logging.getLogger("voicebot.console")

CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403


class VersionWatch:
    """Polls the queue version while anyone listens; listeners wait for it to change."""

    def __init__(self, read: Callable[[], int], interval_s: float) -> None:
        """Read the version with `read` (blocking: run in a thread) every `interval_s`."""
        self._read = read
        self._interval = interval_s
        self._version = -1
        self._changed: asyncio.Condition | None = None
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None

    async def wait_change(self, seen: int, timeout: float) -> int:
        """The current version once it differs from `seen`, or after `timeout` seconds."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        self._listeners += 1
        try:
            if self._task is None or self._task.done():
                self._version = await asyncio.to_thread(self._read)
                self._task = asyncio.create_task(self._poll(), name="console-version-watch")
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self._version != seen), timeout
                    )
                return self._version
        finally:
            self._listeners -= 1

    async def _poll(self) -> None:
        assert self._changed is not None
        idle_rounds = 0
        while idle_rounds < 4:  # stop a couple of seconds after the last console left
            await asyncio.sleep(self._interval)
            idle_rounds = idle_rounds + 1 if self._listeners == 0 else 0
            try:
                version = await asyncio.to_thread(self._read)
            except StoreError as exc:
                log.warning("console: reading the queue version failed: %s", exc)
                continue
            if version != self._version:
                async with self._changed:
                    self._version = version
                    self._changed.notify_all()


async def serve_socket(
    websocket: WebSocket,
    *,
    guard: Guard,
    users: UserStore,
    queue: ConsoleQueue,
    watch: VersionWatch,
    settings: ConsoleSettings,
    clock: Callable[[], datetime],
) -> None:
    """One console's live connection: snapshots on change, heartbeats, session re-checks."""
    await websocket.accept()
    user = await guard.socket_user(websocket)
    if user is None:
        cross = not same_origin(websocket.headers, settings.allowed_origins)
        await _send(websocket, {"type": "forbidden" if cross else "expired"})
        await websocket.close(CLOSE_FORBIDDEN if cross else CLOSE_UNAUTHORISED)
        return
    token = websocket.cookies.get(COOKIE_NAME, "")
    inbox: asyncio.Queue[str | None] = asyncio.Queue()
    reader = asyncio.create_task(_read_frames(websocket, inbox))
    try:
        if user.status == "offline":  # the console is open: the operator is online
            await asyncio.to_thread(queue.set_presence, user.login, "available", clock())
        else:
            await asyncio.to_thread(users.touch, user.login, clock())
        version = -1
        loop = asyncio.get_running_loop()
        next_check = loop.time() + settings.heartbeat_s
        while True:
            current = await watch.wait_change(version, timeout=settings.poll_interval_s)
            if current != version:
                data = await asyncio.to_thread(snapshot, user, queue, settings, clock(), current)
                if not await _send(websocket, data):
                    return
                version = current
            if _closed(inbox):
                return
            if loop.time() >= next_check:
                next_check = loop.time() + settings.heartbeat_s
                refreshed = await asyncio.to_thread(users.session, token, clock())
                if refreshed is None:
                    await _send(websocket, {"type": "expired"})
                    await websocket.close(CLOSE_UNAUTHORISED)
                    return
                if (refreshed.role, refreshed.topics) != (user.role, user.topics):
                    version = -1  # what the user may see changed: re-send
                user = refreshed
                # Only last_seen: the status is the queue's (busy while holding a call).
                await asyncio.to_thread(users.touch, user.login, clock())
    except (WebSocketDisconnect, RuntimeError, StoreError) as exc:
        log.debug("console socket of %s ended: %s", user.login, exc)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _read_frames(websocket: WebSocket, inbox: asyncio.Queue[str | None]) -> None:
    """Drain the browser's frames; None in the inbox means it went away."""
    try:
        while True:
            message = await websocket.receive()
            if message.get("type") == "websocket.disconnect":
                break
            text = message.get("text")
            if isinstance(text, str) and len(text) < 4096:
                inbox.put_nowait(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        inbox.put_nowait(None)


def _closed(inbox: asyncio.Queue[str | None]) -> bool:
    """Whether the browser left (pings are simply consumed)."""
    while not inbox.empty():
        if inbox.get_nowait() is None:
            return True
    return False


async def _send(websocket: WebSocket, data: dict[str, Any]) -> bool:
    if websocket.client_state != WebSocketState.CONNECTED:
        return False
    try:
        await websocket.send_json(data)
    except (WebSocketDisconnect, RuntimeError):
        return False
    return True
