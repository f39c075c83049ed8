"""Asterisk AudioSocket as Asterisk speaks it, written from the protocol documentation
(https://docs.asterisk.org/Configuration/Channel-Drivers/AudioSocket/) and res_audiosocket.c:
a TCP connection, the UUID frame first, then slin frames `[kind][len u16 BE][PCM16 LE]`.

Like the documented dialplan (docs/pbx/audiosocket.md), the client first tells the bridge the
caller and called numbers with Asterisk's CURL(): a form-encoded POST to
`/calls/{uuid}/announce?token=...`. The stream itself carries no numbers, no marks, no flush.

AudioSocket identifies a call by a UUID, so a `call_id` that is not one is mapped to
uuid5(NAMESPACE_URL, call_id); `client.call_id` is the id the bridge sees (for the route).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import uuid

import httpx

from pbx_clients.base import Endpoints, Heard, PbxClient

HEADER = struct.Struct(">BH")  # kind u8, payload length u16 big-endian
KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_ERROR = 0xFF
SLIN_KINDS = {8000: 0x10, 16000: 0x12}  # 0x10 slin (8 kHz), 0x12 slin16 (16 kHz)


def _frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def stream_uuid(call_id: str) -> str:
    """The UUID Asterisk would send for `call_id` (itself when it already is a UUID)."""
    try:
        return str(uuid.UUID(call_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, call_id))


class AudioSocketClient:
    """One call from Asterisk's side: AudioSocket() (8 kHz) or Dial(AudioSocket/..c(slin16))."""

    def __init__(self, endpoints: Endpoints, rate: int = 8000, name: str = "audiosocket") -> None:
        """Not connected until `start`."""
        self.endpoints = endpoints
        self.rate = rate
        self.name = name
        self.kind = SLIN_KINDS[rate]
        self.heard = Heard()
        self.call_id = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    async def start(self, call_id: str, caller: str, called: str) -> None:
        """Announce the numbers over HTTP, connect, send the UUID frame."""
        self.call_id = stream_uuid(call_id)
        async with httpx.AsyncClient(base_url=self.endpoints.http, timeout=5.0) as http:
            # What CURL(url,caller=...&called=...) posts: application/x-www-form-urlencoded.
            response = await http.post(
                f"/calls/{self.call_id}/announce",
                params={"token": self.endpoints.token},
                data={"caller": caller, "called": called},
            )
            response.raise_for_status()
        self._reader, self._writer = await asyncio.open_connection(
            self.endpoints.tcp_host, self.endpoints.tcp_port
        )
        await self._write(_frame(KIND_UUID, uuid.UUID(self.call_id).bytes))
        self._reading = asyncio.create_task(self._read(self._reader))

    async def send_audio(self, pcm: bytes) -> None:
        """One slin frame of the client's rate."""
        await self._write(_frame(self.kind, pcm))

    async def send_dtmf(self, digit: str) -> None:
        """A 0x03 frame: the digit as one ASCII byte."""
        await self._write(_frame(KIND_DTMF, digit.encode("ascii")))

    async def hang_up(self) -> None:
        """The terminate frame (0x00, length 0), then our side of the socket ends; waits (5 s at
        most) for the bridge to close its side before dropping the connection."""
        with contextlib.suppress(ConnectionError):
            await self._write(_frame(KIND_HANGUP))
        assert self._writer is not None
        with contextlib.suppress(OSError, RuntimeError):
            self._writer.write_eof()
        await self.wait_closed(5)
        await self._shut()

    async def send_malformed(self) -> None:
        """A frame of a type the protocol does not define (0x42)."""
        with contextlib.suppress(ConnectionError):
            await self._write(_frame(0x42, b"??"))

    async def send_oversized(self) -> None:
        """A slin frame of 65535 bytes: more than 1 s of audio (the bridge's limit)."""
        with contextlib.suppress(ConnectionError):
            await self._write(HEADER.pack(self.kind, 0xFFFF) + bytes(0xFFFF))

    async def wait_closed(self, timeout: float) -> bool:
        """True once the bridge has closed the TCP connection (EOF)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), timeout)
        return self._closed.is_set()

    async def close(self) -> None:
        """Drop the connection and stop reading."""
        await self._shut()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reading

    async def _write(self, data: bytes) -> None:
        assert self._writer is not None, "start() first"
        self._writer.write(data)
        await self._writer.drain()

    async def _shut(self) -> None:
        if self._writer is None:
            return
        with contextlib.suppress(Exception):  # also from another event loop after a test's run
            if not self._writer.is_closing():
                self._writer.close()
            await self._writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(HEADER.size)
                kind, length = HEADER.unpack(header)
                payload = await reader.readexactly(length) if length else b""
                self._on_frame(kind, payload)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.heard.closed_at = time.monotonic()
            self._closed.set()

    def _on_frame(self, kind: int, payload: bytes) -> None:
        now = time.monotonic()
        if kind == KIND_HANGUP:
            self.heard.hangups.append("hangup")
        elif kind == self.kind and payload:
            self.heard.audio.append((now, payload))
        elif kind == self.kind:
            # res_audiosocket rejects an empty audio frame ("Invalid message length").
            self.heard.errors.append("empty audio frame")
        else:
            # Asterisk accepts only audio and hang-up frames from the server.
            self.heard.other.append({"kind": kind, "length": len(payload)})


def make_client(endpoints: Endpoints) -> PbxClient:
    """The AudioSocket() dialplan application: slin at 8 kHz."""
    return AudioSocketClient(endpoints)


def make_slin16_client(endpoints: Endpoints) -> PbxClient:
    """The channel driver with c(slin16) on an Asterisk with the slin rate frame types."""
    return AudioSocketClient(endpoints, rate=16000, name="audiosocket-slin16")
