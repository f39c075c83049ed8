"""A jambonz feature server running the `listen` verb with bidirectional streaming audio.

Written from jambonz's listen documentation and the source of what speaks the wire
(jambonz-feature-server lib/tasks/listen.js, freeswitch-modules mod_audio_fork): the WebSocket
is opened with the subprotocol `audio.jambonz.org` and the verb's `wsAuth` as HTTP Basic auth;
the first TEXT frame is the call information with the verb's metadata merged in; caller audio
is BINARY L16 mono at `sampleRate`; `passDtmf` key presses are TEXT
`{"event": "dtmf", "dtmf": ..., "duration": ...}`. From the bot: BINARY L16 at
`bidirectionalAudio.sampleRate` (the same as the call's here), `killAudio`, `mark` (answered
with `{"type": "mark", "data": {"name": ..., "event": "playout"}}` once played), `clearMarks`,
`disconnect` (jambonz then stops the fork: it closes the socket and calls the actionHook) and
mod_audio_fork's `error`. A caller hang-up closes the socket with 1000 and no last message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from pbx_clients.base import Endpoints, Heard, PbxClient

SUBPROTOCOL = Subprotocol("audio.jambonz.org")
PATH = "/ws/jambonz"
ACTION_PATH = "/jambonz/action"  # the listen verb's actionHook
# mod_audio_fork's send buffer (so its largest BINARY frame) holds MOD_AUDIO_FORK_BUFFER_SECS
# of audio, default 2: FRAME_SIZE_8000 (320 B per 20 ms at 8 kHz) * rate / 8000 * 50/s * 2 s.
BUFFER_SECONDS = 2


class JambonzClient:
    """One call as jambonz's listen verb makes it."""

    name = "jambonz"

    def __init__(self, endpoints: Endpoints, rate: int = 8000, username: str = "jambonz") -> None:
        """`username` is the verb's wsAuth.username (the bridge checks only the password)."""
        self.endpoints = endpoints
        self.rate = rate
        self.username = username
        self.heard = Heard()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.call_id = ""

    def _socket(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("start() first")
        return self._ws

    async def start(self, call_id: str, caller: str, called: str) -> None:
        """Connect like mod_audio_fork (subprotocol, Basic auth) and send the call information."""
        self.call_id = call_id
        credentials = f"{self.username}:{self.endpoints.token}".encode()
        self._ws = await connect(
            self.endpoints.ws + PATH,
            subprotocols=[SUBPROTOCOL],
            additional_headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
        )
        if self._ws.subprotocol != SUBPROTOCOL:
            await self._ws.close()
            raise RuntimeError(f"the bridge did not accept the subprotocol {SUBPROTOCOL}")
        self._reader = asyncio.create_task(self._read(self._ws))
        await self._send(json.dumps(self.call_information(call_id, caller, called)))

    async def _send(self, message: str | bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._socket().send(message)

    def call_information(self, call_id: str, caller: str, called: str) -> dict[str, Any]:
        """Object.assign({sampleRate, mixType}, callInfo.toJSON(), verb.metadata), as listen.js."""
        return {
            "sampleRate": self.rate,
            "mixType": "mono",
            "callSid": call_id,
            "direction": "inbound",
            "from": caller,
            "to": called,
            "callId": f"{call_id}@10.0.0.5",
            "sipStatus": 200,
            "sipReason": "OK",
            "callStatus": "in-progress",
            "accountSid": "9351f46a-678c-43f5-b8a6-d4eb58d131af",
            "traceId": "151b12417e6460b82a97188348066439",
            "applicationSid": "0e0681b0-d49f-4fb8-b973-b5a3c6758de1",
            "fsSipAddress": "10.0.0.5:5060",
            "originatingSipTrunkName": "conformance",
            "hotline": "support",  # the listen verb's `metadata`
        }

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.heard.audio.append((now, message))
                else:
                    await self._on_text(ws, message, now)
        except ConnectionClosed:
            pass
        finally:
            self.heard.closed_at = time.monotonic()
            self.heard.close_code = ws.close_code

    async def _on_text(self, ws: ClientConnection, text: str, now: float) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            self.heard.other.append(text)
            return
        kind = data.get("type") if isinstance(data, dict) else None
        payload = data.get("data") if isinstance(data, dict) else None
        if kind == "killAudio":
            self.heard.clears.append(now)
        elif kind == "mark" and isinstance(payload, dict):
            name = str(payload.get("name", ""))
            self.heard.marks.append(name)
            # Played at once: the bot paces its audio in real time, so it is due.
            with contextlib.suppress(ConnectionClosed):
                reply = {"type": "mark", "data": {"name": name, "event": "playout"}}
                await ws.send(json.dumps(reply))
        elif kind == "disconnect":
            # jambonz stops the fork (closing with 1000), then calls the listen verb's
            # actionHook and runs the verbs it returns: that is where a transfer shows.
            self._spawn(self._end_listen(ws))
        elif kind == "error":
            detail = payload.get("message") if isinstance(payload, dict) else None
            self.heard.errors.append(str(detail or text))
        else:
            self.heard.other.append(data)

    async def _end_listen(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.close(1000)
        credentials = ("jambonz", self.endpoints.token)
        async with httpx.AsyncClient(base_url=self.endpoints.http, timeout=5) as http:
            answer = await http.post(
                ACTION_PATH,
                json={"call_sid": self.call_id, "reason": "disconnect"},
                auth=credentials,
            )
        if answer.status_code != 200:
            self.heard.other.append(("actionHook", answer.status_code))
            return
        verbs: list[dict[str, Any]] = answer.json()
        context: dict[str, Any] = {}
        for verb in verbs:
            if verb.get("verb") == "tag":
                context = dict(verb.get("data", {}).get("voicebot", {}))
            elif verb.get("verb") == "enqueue":
                self.heard.transfers.append((str(verb["name"]), context))
            elif verb.get("verb") == "hangup":
                self.heard.hangups.append("hangup")
            else:
                self.heard.other.append(("verb", verb))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_audio(self, pcm: bytes) -> None:
        """One BINARY frame of L16 at the call's rate."""
        await self._send(pcm)

    async def send_dtmf(self, digit: str) -> None:
        """As listen.js forwards it with passDtmf (duration in RTP timestamp units)."""
        await self._send(json.dumps({"event": "dtmf", "dtmf": digit, "duration": "1600"}))

    async def hang_up(self) -> None:
        """The caller hangs up: the media bug closes and mod_audio_fork closes with 1000."""
        with contextlib.suppress(ConnectionClosed):
            await self._socket().close(1000)

    async def send_malformed(self) -> None:
        """A TEXT frame that is not JSON."""
        await self._send('{"event": "dtmf", "dtmf": ')

    async def send_oversized(self) -> None:
        """A BINARY frame beyond the largest mod_audio_fork sends with its default buffer."""
        limit = 320 * self.rate // 8000 * 50 * BUFFER_SECONDS
        await self._send(bytes(limit + 2))

    async def wait_closed(self, timeout: float) -> bool:
        """True once the connection is closed (by either side)."""
        if self._reader is None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self._reader.done()

    async def close(self) -> None:
        """Clean-up: close the socket and stop the reader."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5)
        for task in list(self._tasks):
            task.cancel()


def make_client(endpoints: Endpoints) -> PbxClient:
    """jambonz listen at 8 kHz (the verb's default sampleRate)."""
    return JambonzClient(endpoints)


def make_wideband_client(endpoints: Endpoints) -> PbxClient:
    """jambonz listen with sampleRate and bidirectionalAudio.sampleRate 16000."""
    return JambonzClient(endpoints, rate=16000)
