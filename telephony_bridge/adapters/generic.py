"""voicebot's own WebSocket protocol (docs/bridge-protocol.md): translation only, no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from telephony_bridge.adapters.base import (
    CLOSE_UNSUPPORTED,
    NOTHING,
    AdapterSpec,
    ProtocolError,
    Translation,
    Wire,
)
from voicebot.audio import Codec, decode, encode
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

MAX_FRAME_BYTES = 8000
CODECS: dict[str, tuple[int, ...]] = {"alaw": (8000,), "ulaw": (8000,), "pcm16": (8000, 16000)}
DTMF_DIGITS = frozenset("0123456789*#ABCD")


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc.msg}", CLOSE_UNSUPPORTED) from exc
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "a control message must be a JSON object")
    return cast(dict[str, Any], data)


def _string(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ProtocolError("bad_field", f"{key!r} must be a string")
    return str(value)


def parse_start(text: str) -> CallStarted:
    """The first message of a call; ProtocolError when it is not a valid `start`."""
    data = _json_object(text)
    if data.get("event") != "start":
        raise ProtocolError("expected_start", 'the first message must be {"event": "start"}')
    call_id = _string(data, "call_id")
    if not call_id or len(call_id) > 128:
        raise ProtocolError("bad_field", "'call_id' is required (at most 128 characters)")
    codec = _string(data, "codec", "pcm16")
    if codec not in CODECS:
        raise ProtocolError("bad_codec", f"unknown codec {codec!r}; use alaw, ulaw or pcm16")
    rate = data.get("sample_rate", 8000)
    if not isinstance(rate, int) or rate not in CODECS[codec]:
        raise ProtocolError("bad_rate", f"{codec} supports sample rates {CODECS[codec]}")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ProtocolError("bad_field", "'metadata' must be an object")
    return CallStarted(
        call_id=call_id,
        caller=_string(data, "caller"),
        called=_string(data, "called"),
        sample_rate=rate,
        codec=codec,
        metadata={str(k): str(v) for k, v in metadata.items()},
    )


def parse_control(text: str) -> InboundEvent:
    """A TEXT frame after `start`: dtmf, mark or stop."""
    data = _json_object(text)
    event = data.get("event")
    if event == "dtmf":
        digit = _string(data, "digit")
        if digit not in DTMF_DIGITS or len(digit) != 1:
            raise ProtocolError("bad_field", f"not a DTMF digit: {digit!r}")
        return DtmfIn(digit)
    if event == "mark":
        return PlaybackMark(_string(data, "name"))
    if event == "stop":
        return CallEnded(_string(data, "reason", "hangup") or "hangup")
    raise ProtocolError("unknown_event", f"unknown event {event!r}")


@dataclass(frozen=True)
class GenericCodec:
    """Audio conversion for one call: the wire codec <-> PCM16 at the call's rate."""

    codec: str

    def audio_in(self, payload: bytes) -> AudioIn:
        """A BINARY frame from the PBX."""
        if len(payload) > MAX_FRAME_BYTES:
            raise ProtocolError(
                "frame_too_large", f"audio frame of {len(payload)} bytes > {MAX_FRAME_BYTES}"
            )
        if self.codec == "pcm16" and len(payload) % 2:
            raise ProtocolError("bad_audio", "pcm16 frames must have an even number of bytes")
        return AudioIn(decode(payload, cast(Codec, self.codec)))

    def outbound(self, event: OutboundEvent) -> list[str | bytes]:
        """What to send for an outbound event (BINARY as bytes, TEXT as str)."""
        if isinstance(event, PlayAudio):
            messages: list[str | bytes] = []
            if event.pcm:
                messages.append(encode(event.pcm, cast(Codec, self.codec)))
            if event.mark:
                messages.append(_text({"event": "mark", "name": event.mark}))
            return messages
        if isinstance(event, ClearAudio):
            return [_text({"event": "clear"})]
        if isinstance(event, TransferCall):
            return [
                _text({"event": "transfer", "target": event.target, "context": dict(event.context)})
            ]
        if isinstance(event, Hangup):
            return [_text({"event": "hangup", "reason": event.reason})]
        if isinstance(event, CallerHeard):
            return [_text({"event": "transcript", "text": event.text, "final": event.final})]
        if isinstance(event, BotSaid):
            return [
                _text(
                    {
                        "event": "say",
                        "text": event.text,
                        "kind": event.kind,
                        "entry_id": event.entry_id,
                    }
                )
            ]
        raise TypeError(f"not an outbound event: {event!r}")


class GenericAdapter:
    """CallAdapter of the generic protocol: `start`, then audio and control frames."""

    def __init__(self) -> None:
        """Nothing is known before `start`."""
        self.codec: GenericCodec | None = None

    def receive(self, message: Wire) -> Translation:
        """`start` first, then BINARY audio and TEXT control frames."""
        if self.codec is None:
            if isinstance(message, bytes):
                raise ProtocolError(
                    "expected_start", 'the first message must be {"event": "start"}'
                )
            started = parse_start(message)
            self.codec = GenericCodec(started.codec)
            return Translation(events=(started,))
        if isinstance(message, bytes):
            return Translation(events=(self.codec.audio_in(message),))
        return Translation(events=(parse_control(message),))

    def send(self, event: OutboundEvent) -> Translation:
        """Audio in the call's codec, the rest as JSON TEXT frames."""
        if self.codec is None:
            return NOTHING
        return Translation(replies=tuple(self.codec.outbound(event)))

    def refuse(self, error: ProtocolError) -> tuple[Wire, ...]:
        """An `error` event."""
        return (error_message(error),)


SPEC = AdapterSpec(name="generic", new=GenericAdapter, path="/ws/call")


def error_message(error: ProtocolError) -> str:
    """The `error` event sent before closing."""
    return _text({"event": "error", "code": error.code, "message": str(error)})


def _text(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)
