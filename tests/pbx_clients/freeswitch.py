"""FreeSWITCH mod_audio_fork / mod_audio_stream as a conformance-suite PBX client.

Written from the modules' documentation and sources (drachtio-freeswitch-modules
modules/mod_audio_fork: README.md, lws_glue.cpp, audio_pipe.cpp; amigniter/mod_audio_stream:
README.md, audio_streamer_glue.cpp) and from docs/pbx/freeswitch.md, which defines the metadata
string and the Lua hooks. The client plays the module plus those hooks:

- `start` is `uuid_audio_fork <uuid> start <url> mono 16k <metadata>` (or `uuid_audio_stream
  ... mono 8k ...`): connect (mod_audio_fork asks for the subprotocol audio.drachtio.org and
  sends HTTP Basic auth from MOD_AUDIO_BASIC_AUTH_USERNAME/PASSWORD; mod_audio_stream sends the
  headers of STREAM_EXTRA_HEADERS, here `Authorization: Bearer`, and offers permessage-deflate),
  then the metadata as the first TEXT frame;
- caller audio is raw L16 in BINARY frames; DTMF is the hook's `send_text`
  `{"event":"dtmf","digit":"5"}`; hanging up closes the socket (the media bug's CLOSE);
- what the bot sends is JSON text: `playAudio` / `streamAudio` audio (the module writes it to a
  file, the hook plays it: recorded as heard audio), `killAudio` (a clear), `transfer`,
  `disconnect` (a hang-up), `error`; the protocols have no marks, so none are acknowledged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from pbx_clients.base import Endpoints, Heard, PbxClient

# mod_audio_fork keeps at most MOD_AUDIO_FORK_BUFFER_SECS (<= 5) seconds of audio per frame;
# 6 s of 16 kHz L16 is beyond anything either module sends.
OVERSIZED_AUDIO = b"\x00" * (6 * 16000 * 2)
# audio_pipe.cpp discards (does not close on) server text messages above this size.
FORK_MAX_RECEIVE = 65 * 1024 * 10


@dataclass(frozen=True)
class ModuleWire:
    """How one module connects and how it names the bot's audio message."""

    name: str
    path: str
    rate: int
    audio_type: str
    content_type_key: str
    content_key: str
    subprotocol: str | None
    compression: str | None  # lws (mod_audio_fork) offers no extension; libwsc offers deflate
    basic_auth: bool  # else a Bearer header from STREAM_EXTRA_HEADERS


FORK = ModuleWire(
    "freeswitch_fork",
    "/ws/freeswitch/fork",
    16000,
    "playAudio",
    "audioContentType",
    "audioContent",
    "audio.drachtio.org",
    None,
    True,
)
STREAM = ModuleWire(
    "freeswitch_stream",
    "/ws/freeswitch/stream",
    8000,
    "streamAudio",
    "audioDataType",
    "audioData",
    None,
    "deflate",
    False,
)


class FreeswitchClient:
    """One channel with a mod_audio_fork or mod_audio_stream media bug."""

    def __init__(self, endpoints: Endpoints, wire: ModuleWire) -> None:
        """Not connected until `start`."""
        self.endpoints = endpoints
        self.wire = wire
        self.name = wire.name
        self.rate = wire.rate
        self.heard = Heard()
        self.call_id = ""
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, call_id: str, caller: str, called: str) -> None:
        """Connect and send the metadata TEXT frame our dialplan's start command carries."""
        self.call_id = call_id
        token = self.endpoints.token
        if self.wire.basic_auth:
            secret = base64.b64encode(f"freeswitch:{token}".encode()).decode("ascii")
            headers = {"Authorization": f"Basic {secret}"}
        else:
            headers = {"Authorization": f"Bearer {token}"}
        subprotocols = [Subprotocol(self.wire.subprotocol)] if self.wire.subprotocol else None
        self._ws = await connect(
            self.endpoints.ws.rstrip("/") + self.wire.path,
            subprotocols=subprotocols,
            additional_headers=headers,
            compression=self.wire.compression,
            max_size=None,
            proxy=None,
        )
        self._reader = asyncio.create_task(self._read(self._ws))
        metadata = {
            "call_id": call_id,
            "caller": caller,
            "called": called,
            "sample_rate": self.rate,
        }
        await self._ws.send(json.dumps(metadata, separators=(",", ":")))

    async def send_audio(self, pcm: bytes) -> None:
        """20 ms of caller audio as a raw L16 BINARY frame."""
        await self._send(pcm)

    async def send_dtmf(self, digit: str) -> None:
        """The DTMF hook's `uuid_audio_fork|uuid_audio_stream <uuid> send_text` message."""
        await self._send(json.dumps({"event": "dtmf", "digit": digit}, separators=(",", ":")))

    async def hang_up(self) -> None:
        """The channel hangs up: the module closes the socket without a final text."""
        with contextlib.suppress(ConnectionClosed):
            await self._socket().close(1000)

    async def send_malformed(self) -> None:
        """A `send_text` that is not JSON."""
        await self._send("dtmf 5")

    async def send_oversized(self) -> None:
        """A BINARY frame of 6 s of audio, more than either module ever buffers."""
        await self._send(OVERSIZED_AUDIO)

    async def wait_closed(self, timeout: float) -> bool:
        """True once the bridge has closed the socket and the reader has seen it."""
        if self._reader is None:
            return False
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Drop the socket and the reader."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)

    async def _send(self, message: str | bytes) -> None:
        # Both modules stop writing once the socket is closed (they check its state first).
        with contextlib.suppress(ConnectionClosed):
            await self._socket().send(message)

    def _socket(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("start() first")
        return self._ws

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    # mod_audio_fork logs and discards BINARY frames; so does our hook for stream.
                    self.heard.other.append(("binary_frame", len(message)))
                else:
                    self._on_text(message, time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            self.heard.closed_at = time.monotonic()
            self.heard.close_code = ws.close_code

    def _on_text(self, text: str, now: float) -> None:
        if self.wire.basic_auth and len(text) > FORK_MAX_RECEIVE:
            self.heard.other.append(("discarded_oversized_text", len(text)))
            return
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            self.heard.other.append(("not_json", text))
            return
        if not isinstance(message, dict):
            self.heard.other.append(message)
            return
        kind, data = message.get("type"), message.get("data")
        data = data if isinstance(data, dict) else {}
        if kind == self.wire.audio_type:
            self._on_audio(data, now)
        elif kind == "killAudio":
            self.heard.clears.append(now)
        elif kind == "transfer":
            context = data.get("context")
            self.heard.transfers.append(
                (str(data.get("target", "")), context if isinstance(context, dict) else {})
            )
        elif kind == "disconnect":
            self.heard.hangups.append(str(data.get("reason", "")))
        elif kind == "error":
            self.heard.errors.append(str(data.get("message") or json.dumps(data)))
        else:
            self.heard.other.append(message)

    def _on_audio(self, data: dict[str, Any], now: float) -> None:
        # The module writes `raw` audio to a .r8/.r16 file named by sampleRate; the hook plays it.
        content = data.get(self.wire.content_key)
        if data.get(self.wire.content_type_key) != "raw" or not isinstance(content, str):
            self.heard.other.append(("unplayable_audio", data.get(self.wire.content_type_key)))
            return
        if data.get("sampleRate") != self.rate:
            self.heard.other.append(("sample_rate_mismatch", data.get("sampleRate")))
        try:
            pcm = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            self.heard.other.append(("bad_base64", len(content)))
            return
        self.heard.audio.append((now, pcm))


def make_fork_client(endpoints: Endpoints) -> PbxClient:
    """A channel streamed with mod_audio_fork, mono 16 kHz."""
    return FreeswitchClient(endpoints, FORK)


def make_stream_client(endpoints: Endpoints) -> PbxClient:
    """A channel streamed with mod_audio_stream, mono 8 kHz."""
    return FreeswitchClient(endpoints, STREAM)


make_client = make_fork_client
