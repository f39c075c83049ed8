"""Asterisk's WebSocket channel driver (chan_websocket): translation only, no I/O.

Asterisk connects to us: `Dial(WebSocket/<connection>/c(ulaw)f(json))` with the connection in
websocket_client.conf, or ARI `POST /channels/externalMedia?transport=websocket&encapsulation=none
&external_host=<connection>`. Wire format (docs.asterisk.org/Configuration/Channel-Drivers/WebSocket
and channels/chan_websocket.c): BINARY frames are raw media in the channel's format, both ways;
TEXT frames are control, in one of two forms chosen per channel by Asterisk
(chan_websocket.conf `control_message_format`, or the dial string option `f(json|plain-text)`):

- JSON: events `{"event": "MEDIA_START", "channel_id": ..., ...}`, commands
  `{"command": "MARK_MEDIA", "correlation_id": "m7"}`;
- plain text (the default, deprecated): `MEDIA_START connection_id:x channel:y channel_id:z
  format:ulaw optimal_frame_size:160 ptime:20`, `DTMF_END digit:5 channel_id:z`,
  `MEDIA_MARK_PROCESSED m7`; commands `MARK_MEDIA m7`, `FLUSH_MEDIA`, `HANGUP`.

We answer in the form MEDIA_START came in. Events from Asterisk: MEDIA_START, DTMF_END,
MEDIA_XOFF / MEDIA_XON (stop / resume sending media), MEDIA_MARK_PROCESSED, MEDIA_BUFFERING_COMPLETED,
QUEUE_DRAINED, STATUS, ERROR. Asterisk sends no hang-up event: it closes the WebSocket. There is
no transfer command either: we send HANGUP, Dial() returns, and the dialplan reads the call's
route from the bridge (`GET /calls/{channel_id}/route?format=text`, docs/pbx/asterisk.md).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from telephony_bridge.adapters.base import (
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
    NOTHING,
    AdapterSpec,
    ProtocolError,
    Translation,
    Wire,
)
from voicebot.audio import Codec, bytes_per_sample, decode, encode, silence_byte
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

# "The maximum websocket message size the underlying websocket code can handle is 65500 bytes"
# (WebSocket channel driver docs, "Max Message Size and Flow Control"), both ways.
MAX_MESSAGE_BYTES = 65500
# chan_websocket.c ignores (with a log warning) TEXT commands longer than MAX_TEXT_MESSAGE_LEN,
# which is MIN(128, AST_WEBSOCKET_MAX_RX_PAYLOAD_SIZE - 1): every command we send must fit.
MAX_COMMAND_BYTES = 128
# Asterisk's format name -> our codec and the call's sample rate. The source writes slin frames
# as they are in memory: Asterisk's signed linear is host byte order (RTP byte-swaps it to big
# endian, chan_websocket does not), i.e. little endian on x86-64 and ARM64 hosts. We assume those.
FORMATS: dict[str, tuple[Codec, int]] = {
    "ulaw": ("ulaw", 8000),
    "alaw": ("alaw", 8000),
    "slin": ("pcm16", 8000),
    "slin16": ("pcm16", 16000),
}
# Asterisk sends XOFF at 900 queued frames and drops what arrives beyond 1000 (QUEUE_LENGTH_MAX):
# we hold at most that much audio while told to stop, and drop the rest the same way.
MAX_HELD_FRAMES = 1000
MAX_PENDING_MARKS = 256
MAX_ID_CHARS = 256
DTMF_DIGITS = frozenset("0123456789*#ABCD")
# Events we accept and have nothing to do with: buffering (we frame audio ourselves, never
# START/STOP_MEDIA_BUFFERING), QUEUE_DRAINED and STATUS (we never ask), ERROR (Asterisk
# rejected a command; only passthrough mode rejects the commands we send, and we refuse it).
IGNORED_EVENTS = frozenset({"MEDIA_BUFFERING_COMPLETED", "QUEUE_DRAINED", "STATUS", "ERROR"})
# Plain-text events whose only parameter is the free text after the name.
PLAIN_ID_EVENTS = frozenset({"MEDIA_MARK_PROCESSED", "MEDIA_BUFFERING_COMPLETED"})
# A mark name we can pass to Asterisk as it is: no spaces (plain text splits on the first one).
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def parse_json_event(text: str) -> tuple[str, dict[str, Any]]:
    """A JSON-form TEXT frame -> (event name, fields)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc.msg}", CLOSE_UNSUPPORTED) from exc
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "a chan_websocket event must be a JSON object")
    fields = cast(dict[str, Any], data)
    name = fields.get("event")
    if not isinstance(name, str) or not name:
        raise ProtocolError("bad_frame", "a chan_websocket event needs an 'event' name")
    return name, fields


def parse_plain_event(text: str) -> tuple[str, dict[str, Any]]:
    """A plain-text TEXT frame (`NAME key:value key:value`) -> (event name, fields)."""
    name, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    if not name:
        raise ProtocolError("bad_frame", "an empty chan_websocket event")
    if name in PLAIN_ID_EVENTS:  # `MEDIA_MARK_PROCESSED [<correlation id>]`
        return name, {"correlation_id": rest}
    fields: dict[str, Any] = {}
    if name == "ERROR":  # `ERROR channel_id:<id> error_text:<free text>`
        head, _, error_text = rest.partition("error_text:")
        fields["error_text"] = error_text
        rest = head
    for token in rest.split():
        key, colon, value = token.partition(":")
        if not colon or not key:
            raise ProtocolError("bad_frame", f"{name}: expected key:value, got {token!r}")
        fields[key] = value
    return name, fields


def _string(fields: Mapping[str, Any], key: str, default: str = "") -> str:
    value = fields.get(key, default)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ProtocolError("bad_field", f"{key!r} must be a string")
    return str(value)


def _number(fields: Mapping[str, Any], key: str) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if type(value) is int and value >= 0:
        return value
    raise ProtocolError("bad_field", f"{key!r} must be a whole number")


def _variables(fields: Mapping[str, Any]) -> dict[str, str]:
    raw = fields.get("channel_variables", {})
    if not isinstance(raw, dict):
        raise ProtocolError("bad_field", "'channel_variables' must be an object")
    variables: dict[str, str] = {}
    for name, value in cast(dict[str, Any], raw).items():
        if not isinstance(value, str):
            raise ProtocolError("bad_field", f"channel variable {name!r} must be a string")
        # Inherited `__NAME` variables keep their underscores on the WebSocket channel.
        variables[str(name).lstrip("_") or str(name)] = value
    return variables


@dataclass(frozen=True)
class MediaStart:
    """What MEDIA_START told us about the call."""

    call_id: str
    codec: Codec
    sample_rate: int
    frame_bytes: int  # optimal_frame_size: one 20 ms frame on the wire
    variables: Mapping[str, str]


def parse_media_start(fields: Mapping[str, Any]) -> MediaStart:
    """MEDIA_START's fields (either form) -> the call; ProtocolError on anything unusable."""
    format_name = _string(fields, "format")
    if format_name not in FORMATS:
        raise ProtocolError(
            "bad_codec",
            f"unsupported format {format_name!r}; supported: {', '.join(FORMATS)} "
            "(set it with c(...) in the dial string or format= in externalMedia)",
        )
    codec, rate = FORMATS[format_name]
    frame_bytes = _number(fields, "optimal_frame_size")
    if frame_bytes is None or not 0 < frame_bytes <= MAX_MESSAGE_BYTES:
        raise ProtocolError("bad_field", "'optimal_frame_size' must be 1..65500 bytes")
    if frame_bytes % bytes_per_sample(codec):
        raise ProtocolError("bad_field", f"{format_name} frames must be whole samples")
    _number(fields, "ptime")  # informational; validated only
    # channel_id (the channel's uniqueid) is in current releases' MEDIA_START, in both forms;
    # the first releases sent only connection_id and channel (the connection_id of an outgoing
    # connection is its websocket_client.conf name, the same for every call), so fall back to
    # the channel name, which is unique while the channel lives.
    call_id = _string(fields, "channel_id") or _string(fields, "channel")
    if not call_id or len(call_id) > MAX_ID_CHARS or not call_id.isprintable():
        raise ProtocolError("bad_field", "MEDIA_START needs a channel_id (or a channel name)")
    return MediaStart(call_id, codec, rate, frame_bytes, _variables(fields))


def call_started(start: MediaStart) -> CallStarted:
    """The call: the CALLER and CALLED channel variables (set by the dialplan) become the
    numbers, the other channel variables the metadata."""
    metadata = dict(start.variables)
    caller = metadata.pop("CALLER", "")
    called = metadata.pop("CALLED", "")
    return CallStarted(
        call_id=start.call_id,
        caller=caller,
        called=called,
        sample_rate=start.sample_rate,
        codec=start.codec,
        metadata=metadata,
    )


class MediaOut:
    """What we send one channel: whole frames, the form of its commands, flow control, marks."""

    def __init__(self, start: MediaStart, json_form: bool) -> None:
        """Frames of `start.frame_bytes`; commands in the JSON or plain-text form."""
        self.codec = start.codec
        self.frame_bytes = start.frame_bytes
        self.json_form = json_form
        # The largest whole number of frames in one message.
        self.chunk_bytes = MAX_MESSAGE_BYTES // start.frame_bytes * start.frame_bytes
        self.partial = bytearray()  # the start of a frame not yet complete
        self.xoff = False
        self.held: list[Wire] = []  # audio and marks held while Asterisk said MEDIA_XOFF
        self.held_bytes = 0
        self.marks: OrderedDict[str, str] = OrderedDict()  # correlation id -> mark name
        self.ids = 0

    def command(self, name: str, correlation_id: str = "") -> str:
        """A command in the channel's form."""
        if self.json_form:
            body = {"command": name} | (
                {"correlation_id": correlation_id} if correlation_id else {}
            )
            return json.dumps(body, separators=(",", ":"))
        return f"{name} {correlation_id}" if correlation_id else name

    def play(self, event: PlayAudio) -> tuple[Wire, ...]:
        """Audio as whole frames (a partial one waits for the next), then MARK_MEDIA."""
        messages: list[Wire] = []
        if event.pcm:
            self.partial += encode(event.pcm, self.codec)
            whole = len(self.partial) // self.frame_bytes * self.frame_bytes
            messages += self._chunks(bytes(self.partial[:whole]))
            del self.partial[:whole]
        if event.mark:
            if self.partial:  # the end of a phrase: pad the last frame with silence
                pad = self.frame_bytes - len(self.partial)
                messages += self._chunks(
                    bytes(self.partial) + bytes([silence_byte(self.codec)]) * pad
                )
                self.partial.clear()
            messages.append(self.command("MARK_MEDIA", self._correlation_id(event.mark)))
        if not self.xoff:
            return tuple(messages)
        for message in messages:
            if isinstance(message, bytes):
                if self.held_bytes + len(message) > MAX_HELD_FRAMES * self.frame_bytes:
                    continue  # what Asterisk would drop anyway
                self.held_bytes += len(message)
            self.held.append(message)
        return ()

    def flush(self) -> tuple[Wire, ...]:
        """Barge-in: FLUSH_MEDIA empties Asterisk's queue; what we hold is dropped too."""
        self.partial.clear()
        self.held.clear()
        self.held_bytes = 0
        return (self.command("FLUSH_MEDIA"),)

    def resume(self) -> tuple[Wire, ...]:
        """MEDIA_XON: what was held, in order (consecutive audio merged into large messages)."""
        self.xoff = False
        released: list[Wire] = []
        audio = bytearray()
        for message in self.held:
            if isinstance(message, bytes):
                audio += message
            else:
                released += self._chunks(bytes(audio))
                audio.clear()
                released.append(message)
        released += self._chunks(bytes(audio))
        self.held.clear()
        self.held_bytes = 0
        return tuple(released)

    def hang_up(self) -> tuple[Wire, ...]:
        """HANGUP: Asterisk hangs the WebSocket channel up; nothing held is worth sending."""
        self.partial.clear()
        self.held.clear()
        self.held_bytes = 0
        return (self.command("HANGUP"),)

    def mark_processed(self, correlation_id: str) -> PlaybackMark | None:
        """MEDIA_MARK_PROCESSED -> the mark it acknowledges (None for one we did not set)."""
        name = self.marks.pop(correlation_id, None)
        return None if name is None else PlaybackMark(name)

    def _correlation_id(self, mark: str) -> str:
        # The mark's own name when it is short and plain (commands must fit in 128 bytes and
        # plain text cannot carry spaces); otherwise one of ours.
        if SAFE_ID.fullmatch(mark):
            correlation_id = mark
        else:
            self.ids += 1
            correlation_id = f"voicebot-{self.ids}"
        self.marks[correlation_id] = mark
        self.marks.move_to_end(correlation_id)
        while len(self.marks) > MAX_PENDING_MARKS:
            self.marks.popitem(last=False)
        return correlation_id

    def _chunks(self, audio: bytes) -> list[Wire]:
        return [audio[i : i + self.chunk_bytes] for i in range(0, len(audio), self.chunk_bytes)]


class AsteriskWebSocketAdapter:
    """CallAdapter of one chan_websocket channel (Dial() or ARI externalMedia)."""

    def __init__(self) -> None:
        """Nothing is known before MEDIA_START."""
        self.out: MediaOut | None = None

    def receive(self, message: Wire) -> Translation:
        """MEDIA_START first, then BINARY media and TEXT events."""
        size = len(message) if isinstance(message, bytes) else len(message.encode())
        if size > MAX_MESSAGE_BYTES:
            raise ProtocolError(
                "frame_too_large",
                f"message of {size} bytes > {MAX_MESSAGE_BYTES}, chan_websocket's limit",
                CLOSE_TOO_BIG,
            )
        if self.out is None:
            return self._start(message)
        if isinstance(message, bytes):
            return self._audio(self.out, message)
        parse = parse_json_event if self.out.json_form else parse_plain_event
        name, fields = parse(message)
        return self._event(self.out, name, fields)

    def _start(self, message: Wire) -> Translation:
        if isinstance(message, bytes):
            raise ProtocolError("expected_start", "media before MEDIA_START")
        json_form = message.lstrip()[:1] in ("{", "[")
        name, fields = (parse_json_event if json_form else parse_plain_event)(message)
        if name != "MEDIA_START":
            raise ProtocolError(
                "expected_start", f"the first event must be MEDIA_START, not {name}"
            )
        start = parse_media_start(fields)
        self.out = MediaOut(start, json_form)
        return Translation(events=(call_started(start),))

    @staticmethod
    def _audio(out: MediaOut, payload: bytes) -> Translation:
        if not payload:
            return NOTHING
        if len(payload) % bytes_per_sample(out.codec):
            raise ProtocolError("bad_audio", "signed linear media must be whole 16-bit samples")
        return Translation(events=(AudioIn(decode(payload, out.codec)),))

    @staticmethod
    def _event(out: MediaOut, name: str, fields: Mapping[str, Any]) -> Translation:
        if name == "DTMF_END":
            digit = _string(fields, "digit")
            if len(digit) != 1 or digit not in DTMF_DIGITS:
                raise ProtocolError("bad_field", f"not a DTMF digit: {digit!r}")
            return Translation(events=(DtmfIn(digit),))
        if name == "MEDIA_MARK_PROCESSED":
            mark = out.mark_processed(_string(fields, "correlation_id"))
            return NOTHING if mark is None else Translation(events=(mark,))
        if name == "MEDIA_XOFF":
            out.xoff = True
            return NOTHING
        if name == "MEDIA_XON":
            return Translation(replies=out.resume())
        if name in IGNORED_EVENTS:
            return NOTHING
        if name == "MEDIA_START":
            raise ProtocolError("unexpected_event", "a second MEDIA_START")
        raise ProtocolError("unknown_event", f"unknown chan_websocket event {name!r}")

    def send(self, event: OutboundEvent) -> Translation:
        """Media as BINARY frames; MARK_MEDIA, FLUSH_MEDIA and HANGUP as TEXT commands."""
        if self.out is None:
            return NOTHING
        if isinstance(event, PlayAudio):
            return Translation(replies=self.out.play(event))
        if isinstance(event, ClearAudio):
            return Translation(replies=self.out.flush())
        if isinstance(event, TransferCall | Hangup):
            # No transfer command exists: HANGUP ends the WebSocket channel, Dial() returns (with
            # its `g` option) and the dialplan fetches the route; ARI apps see the channel leave.
            return Translation(replies=self.out.hang_up(), close=True)
        # CallerHeard, BotSaid: Asterisk would log them as unknown commands; drop them.
        return NOTHING

    def refuse(self, error: ProtocolError) -> tuple[Wire, ...]:
        """Nothing: chan_websocket has no error command; closing the socket hangs the channel up."""
        return ()


SPEC = AdapterSpec(name="asterisk_websocket", new=AsteriskWebSocketAdapter, path="/ws/asterisk")
