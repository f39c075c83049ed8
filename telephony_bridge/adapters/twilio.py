"""Twilio Media Streams, bidirectional (`<Connect><Stream>`): translation only, no I/O.

Wire format (https://www.twilio.com/docs/voice/media-streams/websocket-messages): every message
is a JSON TEXT frame with an `event`. From Twilio: `connected`, `start` (streamSid, accountSid,
callSid, tracks, customParameters, mediaFormat), `media` (track, chunk, timestamp, base64
payload of mu-law 8 kHz mono), `dtmf` (track, digit), `mark` (name: the echo of ours), `stop`;
numbers such as `sequenceNumber` are strings. To Twilio: `media` {streamSid, media.payload},
`mark` {streamSid, mark.name}, `clear` {streamSid}. Twilio has no transfer or hang-up message:
closing the WebSocket ends `<Connect>`, Twilio then requests the `<Connect action>` URL, and
the TwiML of `twiml_after_stream` decides what happens to the call.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, cast
from xml.sax.saxutils import escape, quoteattr

from telephony_bridge.adapters.base import (
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
    NOTHING,
    AdapterSpec,
    CallRoute,
    ProtocolError,
    Translation,
    Wire,
    is_phone_number,
)
from voicebot.audio import decode, encode
from voicebot.events import (
    AudioIn,
    CallEnded,
    CallStarted,
    ClearAudio,
    DtmfIn,
    Hangup,
    OutboundEvent,
    PlayAudio,
    PlaybackMark,
    TransferCall,
)

# Twilio documents no WebSocket message size. Its inbound media come in 20 ms chunks (160 bytes
# of mu-law, ~216 base64 characters) in practice; the largest legitimate message is `start`,
# whose custom parameters come from the call's TwiML (at most 64 kB, error 11750). The bridge's
# WebSocket server refuses frames over 64 KiB anyway (uvicorn ws_max_size), so: 64 KiB per
# message, and at most 1 s of audio per `media` message.
MAX_MESSAGE_CHARS = 64 * 1024
MAX_AUDIO_BYTES = 8000
# Outbound audio goes out as 20 ms media messages (Twilio accepts any size; 20 ms is what it
# sends itself and what the session's player produces).
OUT_CHUNK_BYTES = 160
SAMPLE_RATE = 8000
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
DTMF_DIGITS = frozenset("0123456789*#ABCD")
MAX_ID_CHARS = 128
# Queue names of <Enqueue> are at most 64 characters (TwiML <Enqueue> reference).
MAX_QUEUE_CHARS = 64
DEFAULT_QUEUE = "operators"
APOLOGY_RU = "Извините, произошла ошибка. Соединяю вас с оператором."


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc.msg}", CLOSE_UNSUPPORTED) from exc
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "a Media Streams message must be a JSON object")
    return cast(dict[str, Any], data)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ProtocolError("bad_field", f"{key!r} must be an object")
    return cast(dict[str, Any], value)


def _string(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        raise ProtocolError("bad_field", f"{key!r} is required")
    # Twilio sends numbers as strings ("sequenceNumber": "2"); accept plain numbers too.
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ProtocolError("bad_field", f"{key!r} must be a string")
    return str(value)


def _identifier(data: dict[str, Any], key: str) -> str:
    value = _string(data, key)
    if not value or len(value) > MAX_ID_CHARS:
        raise ProtocolError("bad_field", f"{key!r} must be 1..{MAX_ID_CHARS} characters")
    return value


def _parameters(start: dict[str, Any]) -> dict[str, str]:
    raw = start.get("customParameters", {})
    if not isinstance(raw, dict):
        raise ProtocolError("bad_field", "'customParameters' must be an object")
    parameters: dict[str, str] = {}
    for name, value in cast(dict[str, Any], raw).items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ProtocolError("bad_field", f"custom parameter {name!r} must be a string")
        parameters[str(name)] = str(value)
    return parameters


def _check_media_format(start: dict[str, Any]) -> None:
    # The docs say mediaFormat is always present and always mu-law/8000/1; a Twilio-compatible
    # platform that omits it gets the only format Twilio has, one that says otherwise is refused.
    media_format = start.get("mediaFormat", MEDIA_FORMAT)
    if media_format != MEDIA_FORMAT:
        raise ProtocolError(
            "bad_codec", f"only audio/x-mulaw, 8000 Hz, 1 channel is supported, got {media_format}"
        )


def parse_start(data: dict[str, Any]) -> tuple[CallStarted, str]:
    """A `start` message -> the call and its streamSid."""
    start = _object(data, "start")
    stream_sid = _identifier(start, "streamSid")
    call_sid = _identifier(start, "callSid")
    _check_media_format(start)
    parameters = _parameters(start)
    caller = parameters.pop("caller", "")
    called = parameters.pop("called", "")
    parameters["streamSid"] = stream_sid
    account_sid = start.get("accountSid")
    if isinstance(account_sid, str) and account_sid:
        parameters["accountSid"] = account_sid
    started = CallStarted(
        call_id=call_sid,
        caller=caller,
        called=called,
        sample_rate=SAMPLE_RATE,
        codec="ulaw",
        metadata=parameters,
    )
    return started, stream_sid


def parse_media(data: dict[str, Any]) -> AudioIn | None:
    """A `media` message -> caller audio (None for another track's audio)."""
    media = _object(data, "media")
    # Bidirectional streams carry the inbound track only; skip anything else Twilio-like
    # platforms may add rather than feed the bot its own voice.
    if _string(media, "track", "inbound") != "inbound":
        return None
    payload = media.get("payload")
    if not isinstance(payload, str):
        raise ProtocolError("bad_field", "'media.payload' must be a base64 string")
    if len(payload) > MAX_AUDIO_BYTES * 4 // 3 + 4:
        raise ProtocolError(
            "frame_too_large",
            f"media payload of {len(payload)} base64 characters > {MAX_AUDIO_BYTES} bytes of audio",
            CLOSE_TOO_BIG,
        )
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("bad_audio", "'media.payload' is not valid base64") from exc
    return AudioIn(decode(audio, "ulaw"))


def parse_dtmf(data: dict[str, Any]) -> DtmfIn:
    """A `dtmf` message -> a key press."""
    digit = _string(_object(data, "dtmf"), "digit")
    if len(digit) != 1 or digit not in DTMF_DIGITS:
        raise ProtocolError("bad_field", f"not a DTMF digit: {digit!r}")
    return DtmfIn(digit)


def parse_mark(data: dict[str, Any]) -> PlaybackMark:
    """A `mark` message (Twilio's echo of ours) -> the mark as played."""
    return PlaybackMark(_string(_object(data, "mark"), "name"))


@dataclass(frozen=True)
class TwilioStream:
    """Outbound messages of one stream."""

    stream_sid: str

    def media(self, pcm: bytes) -> list[str]:
        """PCM16 8 kHz -> base64 mu-law `media` messages of at most 20 ms each."""
        ulaw = encode(pcm, "ulaw")
        return [
            self._message(
                "media",
                media={"payload": base64.b64encode(ulaw[i : i + OUT_CHUNK_BYTES]).decode("ascii")},
            )
            for i in range(0, len(ulaw), OUT_CHUNK_BYTES)
        ]

    def mark(self, name: str) -> str:
        """A `mark` Twilio echoes once the audio before it has played (or been cleared)."""
        return self._message("mark", mark={"name": name})

    def clear(self) -> str:
        """`clear`: Twilio drops the audio it has buffered."""
        return self._message("clear")

    def _message(self, event: str, **body: Any) -> str:
        return json.dumps({"event": event, "streamSid": self.stream_sid, **body})


class TwilioAdapter:
    """CallAdapter of a bidirectional Twilio Media Stream."""

    def __init__(self) -> None:
        """Nothing is known before `start`."""
        self.stream: TwilioStream | None = None

    def receive(self, message: Wire) -> Translation:
        """`connected`, `start`, then media, dtmf, mark and stop messages."""
        if isinstance(message, bytes):
            # Twilio logs error 31950 for binary frames; it never sends them either.
            raise ProtocolError(
                "bad_frame", "Twilio Media Streams use TEXT frames only", CLOSE_UNSUPPORTED
            )
        if len(message) > MAX_MESSAGE_CHARS:
            raise ProtocolError(
                "frame_too_large",
                f"message of {len(message)} characters > {MAX_MESSAGE_CHARS}",
                CLOSE_TOO_BIG,
            )
        data = _json_object(message)
        event = data.get("event")
        sequence = data.get("sequenceNumber", "1")
        if not (type(sequence) is int or (isinstance(sequence, str) and sequence.isdigit())):
            raise ProtocolError("bad_field", "'sequenceNumber' must be a number in a string")
        if self.stream is None:
            return self._before_start(event, data)
        sid = data.get("streamSid", self.stream.stream_sid)
        if sid != self.stream.stream_sid:
            raise ProtocolError("bad_field", f"streamSid {sid!r} is not this stream's")
        if event == "media":
            audio = parse_media(data)
            return NOTHING if audio is None else Translation(events=(audio,))
        if event == "dtmf":
            return Translation(events=(parse_dtmf(data),))
        if event == "mark":
            return Translation(events=(parse_mark(data),))
        if event == "stop":
            return Translation(events=(CallEnded("hangup"),))
        if event in ("connected", "start"):
            raise ProtocolError("unexpected_event", f"{event!r} after the stream started")
        raise ProtocolError("unknown_event", f"unknown event {event!r}")

    def _before_start(self, event: object, data: dict[str, Any]) -> Translation:
        if event == "connected":
            return NOTHING
        if event == "start":
            started, stream_sid = parse_start(data)
            self.stream = TwilioStream(stream_sid)
            return Translation(events=(started,))
        if event == "stop":
            return Translation(events=(CallEnded("hangup"),))
        if event in ("media", "dtmf", "mark"):
            raise ProtocolError("expected_start", f"{event!r} before 'start'")
        raise ProtocolError("unknown_event", f"unknown event {event!r}")

    def send(self, event: OutboundEvent) -> Translation:
        """Audio and marks as Twilio messages; transfer and hang-up end the stream."""
        if isinstance(event, TransferCall | Hangup):
            # Twilio's own instruction: end the stream; <Connect action> fetches the next TwiML.
            return Translation(close=True)
        if self.stream is None:
            return NOTHING
        if isinstance(event, PlayAudio):
            replies = self.stream.media(event.pcm) if event.pcm else []
            if event.mark:
                replies.append(self.stream.mark(event.mark))
            return Translation(replies=tuple(replies))
        if isinstance(event, ClearAudio):
            return Translation(replies=(self.stream.clear(),))
        # CallerHeard, BotSaid: Twilio rejects unknown messages (warning 31951), so drop them.
        return NOTHING

    def refuse(self, error: ProtocolError) -> tuple[Wire, ...]:
        """Nothing: Twilio has no error message (anything else is warning 31951); just close."""
        return ()


SPEC = AdapterSpec(name="twilio", new=TwilioAdapter, path="/ws/twilio")


def twiml_after_stream(
    route: CallRoute, *, default_queue: str = DEFAULT_QUEUE, workflow_sid: str = ""
) -> str:
    """The TwiML answer to `<Connect action>` once the stream of a call has ended.

    transfer -> `<Dial>` when the target is where an operator answers (an operator who took the
    call in the console: a phone number "+7...", "sip:..." or "client:..."), else `<Enqueue>`
    into the Twilio queue named after the target (or, with a TaskRouter `workflow_sid`, a Task
    whose JSON attributes carry the target and the context); hangup ->
    `<Hangup/>`; continue (the bot did not end the call: bridge down, protocol error) -> a
    Russian apology and the default queue, so the caller still reaches a person.
    """
    if route.action == "hangup":
        return _twiml("<Hangup/>")
    if route.action == "transfer" and (dial := _dial(route.target)):
        return _twiml(dial)
    if route.action == "transfer":
        target = route.target if 0 < len(route.target) <= MAX_QUEUE_CHARS else default_queue
        return _twiml(_enqueue(target, dict(route.context), workflow_sid))
    say = f'<Say language="ru-RU" voice="Polly.Tatyana">{escape(APOLOGY_RU)}</Say>'
    return _twiml(say + _enqueue(default_queue, {"reason": "bot_unavailable"}, workflow_sid))


def _dial(target: str) -> str:
    """`<Dial>` to an operator's own line, or "" when the target is a queue name."""
    if target.startswith(("sip:", "sips:")):
        return f"<Dial><Sip>{escape(target)}</Sip></Dial>"
    if target.startswith("client:"):
        return f"<Dial><Client>{escape(target.removeprefix('client:'))}</Client></Dial>"
    if is_phone_number(target):
        return f"<Dial><Number>{escape(target)}</Number></Dial>"
    return ""


def _enqueue(queue: str, context: dict[str, str], workflow_sid: str) -> str:
    if not workflow_sid:
        return f"<Enqueue>{escape(queue)}</Enqueue>"
    attributes = json.dumps({**context, "target": queue}, ensure_ascii=False, sort_keys=True)
    priority = context.get("priority", "")
    task_attrs = f" priority={quoteattr(priority)}" if priority.isdigit() else ""
    return (
        f"<Enqueue workflowSid={quoteattr(workflow_sid)}>"
        f"<Task{task_attrs}>{escape(attributes)}</Task></Enqueue>"
    )


def _twiml(verbs: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{verbs}</Response>'
