"""The generic protocol's PBX side (docs/bridge-protocol.md): JSON `start`, A-law frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pbx_clients.base import Endpoints, Heard
from voicebot.audio import decode, encode

PATH = "/ws/call"


class GenericClient:
    """A PBX speaking voicebot's own protocol with A-law at 8 kHz."""

    name = "generic"
    rate = 8000

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.heard = Heard()
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.call_id = ""

    async def start(self, call_id: str, caller: str, called: str) -> None:
        self.call_id = call_id
        url = f"{self.endpoints.ws}{PATH}?token={self.endpoints.token}"
        self.ws = await connect(url, max_size=65536)
        self.reader = asyncio.create_task(self._read(self.ws))
        start = {
            "event": "start",
            "call_id": call_id,
            "caller": caller,
            "called": called,
            "codec": "alaw",
            "sample_rate": self.rate,
        }
        await self._send(json.dumps(start))

    async def _send(self, message: str | bytes) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(message)

    async def send_audio(self, pcm: bytes) -> None:
        await self._send(encode(pcm, "alaw"))

    async def send_dtmf(self, digit: str) -> None:
        await self._send(json.dumps({"event": "dtmf", "digit": digit}))

    async def hang_up(self) -> None:
        await self._send(json.dumps({"event": "stop", "reason": "hangup"}))
        await self.wait_closed(5)

    async def send_malformed(self) -> None:
        await self._send("{not json")

    async def send_oversized(self) -> None:
        await self._send(bytes(9000))

    async def wait_closed(self, timeout: float) -> bool:
        if self.reader is None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.reader), timeout)
        return self.reader.done()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.reader, 5)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.heard.audio.append((now, decode(message, "alaw")))
                    continue
                event: dict[str, Any] = json.loads(message)
                kind = event.get("event")
                if kind == "mark":
                    self.heard.marks.append(str(event["name"]))
                    await ws.send(message)  # played: the bot paces in real time
                elif kind == "clear":
                    self.heard.clears.append(now)
                elif kind == "transfer":
                    self.heard.transfers.append((str(event["target"]), dict(event["context"])))
                elif kind == "hangup":
                    self.heard.hangups.append(str(event["reason"]))
                elif kind == "error":
                    self.heard.errors.append(str(event["code"]))
                else:
                    self.heard.other.append(event)
        except ConnectionClosed:
            pass
        finally:
            self.heard.closed_at = time.monotonic()
            self.heard.close_code = ws.close_code


def make_client(endpoints: Endpoints) -> GenericClient:
    """A generic-protocol PBX."""
    return GenericClient(endpoints)
