"""Asterisk AudioSocket (app_audiosocket, chan_audiosocket over res_audiosocket): translation only.

The wire (docs/pbx/audiosocket.md, https://docs.asterisk.org/Configuration/Channel-Drivers/AudioSocket/
and res/res_audiosocket.c) is a TCP stream of frames `[kind u8][length u16 big-endian][payload]`.
Asterisk connects to us, sends the call's UUID (0x01, 16 bytes) first, then signed-linear mono
PCM16 little-endian audio whose sample rate is given by the frame kind (0x10 = 8 kHz; 0x11-0x18
= 12/16/24/32/44.1/48/96/192 kHz since the "add message types for all slin sample rates" change),
and DTMF digits (0x03, one ASCII byte). 0x00 ends the stream, 0xFF reports an error.

There is no caller/called number, no playback mark and no flush on this protocol: Asterisk plays
audio frames as they arrive, so we own the playout clock; barge-in is simply sending no more
audio, a mark is echoed back once the audio before it has been sent, and transfer/hang-up send
the hang-up frame, close the socket and leave the decision to the dialplan (route endpoint).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from telephony_bridge.adapters.base import (
    NOTHING,
    AdapterSpec,
    ProtocolError,
    Translation,
    Wire,
)
from voicebot.events import (
    AudioIn,
    BotSaid,
    CallEnded,
    CallerHeard,
    CallStarted,
    ClearAudio,
    DtmfIn,
    Hangup,
    InboundEvent,
    OutboundEvent,
    PlayAudio,
    PlaybackMark,
    TransferCall,
)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
KIND_SLIN16 = 0x12
KIND_ERROR = 0xFF
# AST_AUDIOSOCKET_KIND_AUDIO* (include/asterisk/res_audiosocket.h), Hz per frame kind.
SLIN_RATES: dict[int, int] = {
    0x10: 8000,
    0x11: 12000,
    0x12: 16000,
    0x13: 24000,
    0x14: 32000,
    0x15: 44100,
    0x16: 48000,
    0x17: 96000,
    0x18: 192000,
}
# The rates the call session runs at (recognisers and VAD), with the kind that carries each.
SUPPORTED_RATES: dict[int, int] = {8000: KIND_SLIN, 16000: KIND_SLIN16}
CODEC_NAMES: dict[int, str] = {8000: "slin", 16000: "slin16"}  # Asterisk's format names

HEADER = struct.Struct(">BH")
MAX_PAYLOAD = 0xFFFF  # the length field's own limit
# The protocol sets no smaller limit. Ours: at most 1 s of audio per frame (Asterisk sends 20 ms
# frames), and a small cap on hang-up/error payloads (the docs define none beyond "optional").
MAX_AUDIO_S = 1.0
MAX_CONTROL_PAYLOAD = 256
UUID_BYTES = 16
FRAME_MS = 20
# Keys pressed before the first audio frame (whose kind gives the call's rate) wait for it.
MAX_PENDING_DIGITS = 32
DTMF_DIGITS = frozenset("0123456789*#ABCD")
HANGUP_FRAME = HEADER.pack(KIND_HANGUP, 0)
# The bit-packed error codes Asterisk documents for 0xFF frames.
ASTERISK_ERRORS: dict[int, str] = {
    0x01: "hangup of calling party",
    0x02: "frame forwarding error",
    0x04: "memory (allocation) error",
}


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One wire frame; the payload must fit the 16-bit length field."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"an AudioSocket payload is at most {MAX_PAYLOAD} bytes")
    return HEADER.pack(kind, len(payload)) + payload


def max_audio_payload(rate: int) -> int:
    """The largest audio payload we accept at `rate` (1 s of PCM16, within the length field)."""
    return min(MAX_PAYLOAD, int(rate * 2 * MAX_AUDIO_S))


def audio_frames(pcm: bytes, rate: int) -> list[bytes]:
    """PCM16 at `rate` as slin frames of 20 ms (the last one may be shorter, never empty)."""
    if len(pcm) % 2:
        raise ValueError("PCM16 audio must have an even number of bytes")
    kind = SUPPORTED_RATES[rate]
    step = rate * 2 * FRAME_MS // 1000
    return [frame(kind, pcm[i : i + step]) for i in range(0, len(pcm), step)]


def error_reason(payload: bytes) -> str:
    """CallEnded's reason for an error frame: `pbx_error_0x01` (the code's bytes in hex)."""
    return f"pbx_error_0x{payload.hex()}" if payload else "pbx_error"


@dataclass(frozen=True)
class _Started:
    call_id: str
    rate: int


class AudioSocketAdapter:
    """CallAdapter of AudioSocket: reassembles frames from TCP chunks; UUID first, then audio."""

    def __init__(self) -> None:
        """Nothing is known before the UUID frame."""
        self._buffer = bytearray()
        self._call_id: str | None = None
        self._started: _Started | None = None
        self._pending: list[InboundEvent] = []
        self._ended = False  # the PBX ended the stream (hang-up or error frame)
        self._closed = False  # we sent the hang-up frame

    # --- from Asterisk -------------------------------------------------------------------

    def receive(self, message: Wire) -> Translation:
        """A chunk of the TCP stream: zero or more whole frames plus the start of the next."""
        if isinstance(message, str):
            raise ProtocolError("bad_frame", "AudioSocket is a binary protocol")
        if self._ended:
            return NOTHING
        self._buffer += message
        events: list[InboundEvent] = []
        while len(self._buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buffer)
            self._check_header(kind, length)  # before the payload arrives: no waiting for junk
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[HEADER.size : end])
            del self._buffer[:end]
            events += self._on_frame(kind, payload)
            if self._ended:
                self._buffer.clear()
                break
        return Translation(events=tuple(events))

    def _check_header(self, kind: int, length: int) -> None:
        if kind in (KIND_HANGUP, KIND_ERROR):
            if length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError("frame_too_large", f"a 0x{kind:02x} frame of {length} bytes")
            return
        if kind == KIND_UUID:
            if self._call_id is not None:
                raise ProtocolError("bad_frame", "a second UUID frame")
            if length != UUID_BYTES:
                raise ProtocolError("bad_frame", f"a UUID frame has 16 bytes, not {length}")
            return
        if kind != KIND_DTMF and kind not in SLIN_RATES:
            raise ProtocolError("bad_frame", f"unknown AudioSocket frame type 0x{kind:02x}")
        if self._call_id is None:
            raise ProtocolError("expected_uuid", "the first frame must be the UUID (0x01)")
        if kind == KIND_DTMF:
            if length != 1:
                raise ProtocolError("bad_frame", f"a DTMF frame has 1 byte, not {length}")
            return
        self._check_audio_header(kind, length)

    def _check_audio_header(self, kind: int, length: int) -> None:
        rate = SLIN_RATES[kind]
        if rate not in SUPPORTED_RATES:
            raise ProtocolError(
                "bad_rate",
                f"slin at {rate} Hz (frame type 0x{kind:02x}) is not supported; "
                "use slin (0x10, 8 kHz) or slin16 (0x12, 16 kHz)",
            )
        if self._started is not None and rate != self._started.rate:
            raise ProtocolError(
                "rate_changed", f"audio at {rate} Hz in a call at {self._started.rate} Hz"
            )
        if length > max_audio_payload(rate):
            raise ProtocolError(
                "frame_too_large",
                f"an audio frame of {length} bytes (more than {MAX_AUDIO_S:g} s at {rate} Hz)",
            )
        if length % 2:
            raise ProtocolError("bad_audio", "PCM16 audio must have an even number of bytes")

    def _on_frame(self, kind: int, payload: bytes) -> list[InboundEvent]:
        if kind == KIND_UUID:
            self._call_id = str(uuid.UUID(bytes=payload))
            return []
        if kind == KIND_HANGUP:
            self._ended = True
            return [CallEnded("hangup")]
        if kind == KIND_ERROR:
            self._ended = True
            return [CallEnded(error_reason(payload))]
        if kind == KIND_DTMF:
            return self._on_dtmf(payload)
        return self._on_audio(SLIN_RATES[kind], payload)

    def _on_dtmf(self, payload: bytes) -> list[InboundEvent]:
        digit = chr(payload[0])
        if digit not in DTMF_DIGITS:
            raise ProtocolError("bad_field", f"not a DTMF digit: {payload!r}")
        if self._started is not None:
            return [DtmfIn(digit)]
        if len(self._pending) >= MAX_PENDING_DIGITS:
            raise ProtocolError("expected_audio", "too many key presses before any audio")
        self._pending.append(DtmfIn(digit))
        return []

    def _on_audio(self, rate: int, pcm: bytes) -> list[InboundEvent]:
        events: list[InboundEvent] = []
        if self._started is None:
            assert self._call_id is not None  # _check_header refused audio before the UUID
            self._started = _Started(self._call_id, rate)
            # Caller and called are not in the protocol: the dialplan announces them over HTTP
            # and the runner fills them in.
            events.append(CallStarted(self._call_id, "", "", rate, CODEC_NAMES[rate]))
            events += self._pending
            self._pending.clear()
        if pcm:
            events.append(AudioIn(pcm))
        return events

    # --- to Asterisk ---------------------------------------------------------------------

    def send(self, event: OutboundEvent) -> Translation:
        """Audio as slin frames; marks echoed; transfer and hang-up end the stream leg."""
        if self._started is None or self._closed:
            return NOTHING
        if isinstance(event, PlayAudio):
            marks = (PlaybackMark(event.mark),) if event.mark else ()
            return Translation(
                events=marks, replies=tuple(audio_frames(event.pcm, self._started.rate))
            )
        if isinstance(event, TransferCall | Hangup):
            # No transfer instruction exists: end the stream; the dialplan reads the route.
            self._closed = True
            return Translation(replies=(HANGUP_FRAME,), close=True)
        if isinstance(event, ClearAudio | CallerHeard | BotSaid):
            return NOTHING  # no flush on the wire: stopping the audio is the barge-in
        raise TypeError(f"not an outbound event: {event!r}")

    def refuse(self, error: ProtocolError) -> tuple[Wire, ...]:
        """The hang-up frame: AudioSocket has no way to tell Asterisk why."""
        return (HANGUP_FRAME,)


SPEC = AdapterSpec(name="audiosocket", new=AudioSocketAdapter, path=None)
