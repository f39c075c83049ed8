"""jambonz `listen` verb with bidirectional streaming audio: translation only, no I/O.

Wire format (docs/pbx/jambonz.md has the sources): jambonz connects with the WebSocket
subprotocol `audio.jambonz.org`; its first TEXT frame is the call information as JSON (the
listen verb's `metadata` object merged in at the top level), then BINARY frames of L16 (PCM16
little-endian, mono) at `sampleRate`. With `passDtmf` key presses come as TEXT
`{"event": "dtmf", "dtmf": "1", "duration": "1600"}`. With `bidirectionalAudio.streaming` we
send BINARY L16 back, and the TEXT commands `killAudio`, `mark`, `clearMarks` and `disconnect`;
a mark comes back as `{"type": "mark", "data": {"name": ..., "event": "playout"|"cleared"}}`.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, cast
from urllib.parse import quote

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
from voicebot.events import (
    AudioIn,
    CallStarted,
    ClearAudio,
    DtmfIn,
    Hangup,
    OutboundEvent,
    PlayAudio,
    PlaybackMark,
    TransferCall,
)

SUBPROTOCOL = "audio.jambonz.org"
RATES = (8000, 16000)  # what the call session is tested with; jambonz also offers 24k..64k
# mod_audio_fork copies the first frame into a buffer of MAX_METADATA_LEN (8192) bytes, and
# sends nothing else in TEXT but small dtmf/mark events.
MAX_TEXT_BYTES = 8192
# mod_audio_fork's send buffer holds MOD_AUDIO_FORK_BUFFER_SECS of audio (default 2, clamped to
# 1..5) and one BINARY frame never carries more than that buffer. We allow the default: 2 s is
# 32 000 bytes at 8 kHz, 64 000 at 16 kHz, under the bridge's 64 KiB WebSocket message limit.
MAX_BUFFER_SECONDS = 2
# mod_audio_fork discards a `mark` once 30 are pending (MAX_MARKS in lws_glue.cpp).
MAX_PENDING_MARKS = 30
DTMF_DIGITS = frozenset("0123456789*#ABCD")
# Fields of the first frame that CallStarted carries itself; every other scalar goes to metadata.
_OWN_FIELDS = frozenset({"callSid", "from", "to", "sampleRate", "mixType"})


def _text(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


KILL_AUDIO = _text({"type": "killAudio"})
DISCONNECT = _text({"type": "disconnect"})


def _json_object(text: str) -> dict[str, Any]:
    if len(text) > MAX_TEXT_BYTES or len(text.encode()) > MAX_TEXT_BYTES:
        raise ProtocolError(
            "frame_too_large", f"text frame larger than {MAX_TEXT_BYTES} bytes", CLOSE_TOO_BIG
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc.msg}", CLOSE_UNSUPPORTED) from exc
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "a text frame must be a JSON object")
    return cast(dict[str, Any], data)


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ProtocolError("bad_field", f"{key!r} must be a string")
    return str(value)


def _scalar(value: object) -> str | None:
    """A metadata value as a string; None for JSON null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _metadata(data: dict[str, Any]) -> dict[str, str]:
    """Call attributes and the verb's metadata (merged at the top level by jambonz) as strings.

    jambonz's listen task builds the frame with Object.assign({sampleRate, mixType}, callInfo,
    verb.metadata), so verb metadata is not nested; a nested `metadata` object (other senders)
    is flattened too. Objects such as `customerData` are kept as compact JSON.
    """
    flat: dict[str, str] = {}
    nested = data.get("metadata")
    items = list(data.items())
    if isinstance(nested, dict):
        items = [(k, v) for k, v in items if k != "metadata"] + list(nested.items())
    for key, value in items:
        if key in _OWN_FIELDS:
            continue
        text = _scalar(value)
        if text is not None:
            flat[str(key)] = text
    return flat


def parse_call_info(text: str) -> CallStarted:
    """The first TEXT frame of a listen connection; ProtocolError when it is not one."""
    data = _json_object(text)
    if "callSid" not in data:
        raise ProtocolError(
            "expected_start", "the first frame must be jambonz's call information (callSid)"
        )
    call_id = _string(data, "callSid")
    if not call_id or len(call_id) > 128:
        raise ProtocolError("bad_field", "'callSid' must be 1..128 characters")
    rate = data.get("sampleRate", 8000)
    if not isinstance(rate, int) or isinstance(rate, bool) or rate not in RATES:
        raise ProtocolError(
            "bad_rate",
            f"sampleRate {rate!r} is not supported; set the listen verb to 8000 or 16000",
        )
    mix = data.get("mixType", "mono")
    if mix != "mono":
        raise ProtocolError("bad_field", f"mixType {mix!r} is not supported; use mono")
    return CallStarted(
        call_id=call_id,
        caller=_string(data, "from"),
        called=_string(data, "to"),
        sample_rate=rate,
        codec="pcm16",
        metadata=_metadata(data),
    )


class JambonzAdapter:
    """CallAdapter of one jambonz listen connection."""

    def __init__(self) -> None:
        """Nothing is known before the call information frame."""
        self.rate: int | None = None
        self._pending: deque[str] = deque()  # marks sent and not yet reported back

    def receive(self, message: Wire) -> Translation:
        """Call information first, then BINARY audio and TEXT dtmf/mark events."""
        if self.rate is None:
            if isinstance(message, bytes):
                raise ProtocolError(
                    "expected_start", "audio before jambonz's call information frame"
                )
            started = parse_call_info(message)
            self.rate = started.sample_rate
            return Translation(events=(started,))
        if isinstance(message, bytes):
            return self._audio(message, self.rate)
        return self._control(_json_object(message))

    def _audio(self, payload: bytes, rate: int) -> Translation:
        limit = rate * 2 * MAX_BUFFER_SECONDS
        if len(payload) > limit:
            raise ProtocolError(
                "frame_too_large", f"audio frame of {len(payload)} bytes > {limit}", CLOSE_TOO_BIG
            )
        if not payload:  # mod_audio_fork's graceful shutdown sends a zero-length frame
            return NOTHING
        if len(payload) % 2:
            raise ProtocolError("bad_audio", "L16 frames must have an even number of bytes")
        return Translation(events=(AudioIn(payload),))

    def _control(self, data: dict[str, Any]) -> Translation:
        if data.get("event") == "dtmf":
            digit = _string(data, "dtmf")
            if len(digit) != 1 or digit not in DTMF_DIGITS:
                raise ProtocolError("bad_field", f"not a DTMF digit: {digit!r}")
            return Translation(events=(DtmfIn(digit),))
        kind = data.get("type")
        if kind == "mark":
            return self._mark_event(data.get("data"))
        if kind == "playDone":  # non-streaming playAudio only; we never send it
            return NOTHING
        raise ProtocolError(
            "unknown_event", f"unknown jambonz message {kind or data.get('event')!r}"
        )

    def _mark_event(self, data: object) -> Translation:
        if not isinstance(data, dict):
            raise ProtocolError("bad_field", "a mark event needs a 'data' object")
        name, event = data.get("name"), data.get("event")
        if not isinstance(name, str) or event not in ("playout", "cleared"):
            raise ProtocolError(
                "bad_field", "a mark event needs 'name' and 'event' playout|cleared"
            )
        if name in self._pending:
            self._pending.remove(name)
        if event == "cleared":  # killed by barge-in: never heard
            return NOTHING
        return Translation(events=(PlaybackMark(name),))

    def send(self, event: OutboundEvent) -> Translation:
        """L16 audio as BINARY, the rest as jambonz's JSON commands."""
        if self.rate is None:
            return NOTHING
        if isinstance(event, PlayAudio):
            return self._play(event)
        if isinstance(event, ClearAudio):
            # killAudio flushes jambonz's buffers and reports pending marks as "cleared".
            # No clearMarks: in mod_audio_fork it parks the names in a "cleared" list whose
            # sentinels killAudio has already dropped, which then swallows later marks.
            return Translation(replies=(KILL_AUDIO,))
        if isinstance(event, TransferCall | Hangup):
            # The listen verb ends and jambonz calls its actionHook, which asks the bridge for
            # the call's route (`after_listen_verbs`).
            return Translation(replies=(DISCONNECT,))
        return NOTHING  # CallerHeard, BotSaid: jambonz has no message for them

    def _play(self, event: PlayAudio) -> Translation:
        replies: list[Wire] = []
        if event.pcm:
            replies.append(event.pcm)
        if not event.mark:
            return Translation(replies=tuple(replies))
        if len(self._pending) >= MAX_PENDING_MARKS:
            # jambonz would drop it; the audio before it is paced in real time, so it is due.
            return Translation(events=(PlaybackMark(event.mark),), replies=tuple(replies))
        self._pending.append(event.mark)
        replies.append(_text({"type": "mark", "data": {"name": event.mark}}))
        return Translation(replies=tuple(replies))

    def refuse(self, error: ProtocolError) -> tuple[Wire, ...]:
        """mod_audio_fork's `error` message, which ends the listen verb (actionHook follows)."""
        return (_text({"type": "error", "data": {"code": error.code, "message": str(error)}}),)


SPEC = AdapterSpec(name="jambonz", new=JambonzAdapter, path="/ws/jambonz", subprotocol=SUBPROTOCOL)

# --- after the stream: the listen verb's actionHook -----------------------------------------

CONTINUE_TEXT = "Извините, соединяю вас с оператором."


def after_listen_verbs(
    route: CallRoute,
    *,
    default_queue: str = "operators",
    language: str = "ru-RU",
    sip_uri: str | None = None,
) -> list[dict[str, object]]:
    """The jambonz application to return from the listen verb's actionHook for `route`.

    transfer: `tag` (the context as `customerData.voicebot`, seen by every later webhook of the
    call) then `dial` when the target is where an operator answers (an operator who took the
    call in the console: "+7..." phone, "sip:..." URI or "user:name" of jambonz), else `enqueue`
    into the queue named by the target, or, with `sip_uri` (a template
    such as "sip:{queue}@pbx.example.ru"), `dial` to that URI with X-Voicebot-* headers.
    hangup: `hangup`. continue (the bot did not finish the call, e.g. the stream broke): a
    Russian apology with `say`, then `enqueue` into `default_queue`.
    """
    if route.action == "hangup":
        return [{"verb": "hangup"}]
    if route.action == "continue":
        return [
            {"verb": "say", "text": CONTINUE_TEXT, "synthesizer": {"language": language}},
            {"verb": "enqueue", "name": default_queue},
        ]
    if route.action != "transfer":
        raise ValueError(f"unknown route action {route.action!r}")
    queue = route.target or default_queue
    context = dict(route.context)
    tag: dict[str, object] = {"verb": "tag", "data": {"voicebot": {"queue": queue, **context}}}
    if operator := _operator_target(queue):
        return [tag, {"verb": "dial", "target": [operator], "headers": sip_headers(queue, context)}]
    if sip_uri is None:
        return [tag, {"verb": "enqueue", "name": queue}]
    target = {"type": "sip", "sipUri": sip_uri.format(queue=quote(queue, safe=""))}
    return [tag, {"verb": "dial", "target": [target], "headers": sip_headers(queue, context)}]


def _operator_target(target: str) -> dict[str, object] | None:
    """A jambonz dial target for an operator's own line, None for a queue name."""
    if target.startswith(("sip:", "sips:")):
        return {"type": "sip", "sipUri": target}
    if target.startswith("user:"):
        return {"type": "user", "name": target.removeprefix("user:")}
    if is_phone_number(target):
        return {"type": "phone", "number": target}
    return None


def sip_headers(queue: str, context: dict[str, str]) -> dict[str, str]:
    """X-Voicebot-Queue and one X-Voicebot-<Key> per context key; values percent-encoded UTF-8
    (SIP header values are ASCII in practice; the summary is Russian)."""
    headers = {"X-Voicebot-Queue": quote(queue, safe="")}
    for key, value in sorted(context.items()):
        words = [
            "".join(ch for ch in part if ch.isascii() and ch.isalnum()) for part in key.split("_")
        ]
        name = "-".join(word.capitalize() for word in words if word)
        if name and name != "Queue":
            headers[f"X-Voicebot-{name}"] = quote(value, safe="")
    return headers
