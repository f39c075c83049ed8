"""FreeSWITCH mod_audio_fork and mod_audio_stream: translation only, no I/O.

Both modules attach a media bug to a channel and open a WebSocket to us when the dialplan runs
`uuid_audio_fork <uuid> start <url> mono <8k|16k> <metadata>` (drachtio-freeswitch-modules) or
`uuid_audio_stream <uuid> start <url> mono <8k|16k> <metadata>` (amigniter/mod_audio_stream).
What the module sends: the metadata string as the first TEXT frame, then BINARY frames of raw
L16 (PCM16 little-endian) of the caller ("mono" = the channel's read stream), any number of
20 ms frames per message; later TEXT frames only when FreeSWITCH runs `send_text`; on hang-up
it just closes. The wire does not say the rate, the call id or the numbers: our metadata does
(JSON, see `parse_metadata` and docs/pbx/freeswitch.md), and DTMF reaches us only as a
`send_text` of ours, `{"event":"dtmf","digit":"5"}`, sent by a FreeSWITCH DTMF hook.

What we send: TEXT JSON only (mod_audio_fork discards BINARY frames). Neither module plays our
audio itself: mod_audio_fork writes each `playAudio` to a temp file and fires the CUSTOM event
`mod_audio_fork::play_audio` with the file's path; mod_audio_stream does the same for
`streamAudio` (event `mod_audio_stream::play`). A Lua hook then queues the file on the channel
(`uuid_broadcast`). For `killAudio`, `transfer`, `disconnect`, `error` and `transcription`,
mod_audio_fork fires the events `mod_audio_fork::kill_audio` (and breaks the current playback),
`::transfer` and so on; mod_audio_stream forwards every message but `streamAudio` unparsed as
`mod_audio_stream::json`. So both get the same JSON, and the hook acts on it. There are no
playback marks: `send` returns the `PlaybackMark` itself once the audio before it is handed over.
"""

from __future__ import annotations

import base64
import json
import re
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
from voicebot.events import (
    AudioIn,
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

# mod_audio_fork sends what its buffer holds in one frame: normally 20-60 ms, after a network
# stall up to MOD_AUDIO_FORK_BUFFER_SECS (1..5, default 2) seconds, 128 000 bytes at 16 kHz.
# mod_audio_stream sends STREAM_BUFFER_SIZE ms per frame (default 20). The bridge's WebSocket
# server cuts messages over 64 KiB (uvicorn ws_max_size) anyway, so the cap is 64 000 bytes:
# 2 s at 16 kHz, 4 s at 8 kHz (docs: MOD_AUDIO_FORK_BUFFER_SECS=1 for 16 kHz streams).
MAX_AUDIO_BYTES = 64000
# Both modules copy the metadata into an 8192-byte buffer (MAX_METADATA_LEN); mod_audio_fork
# also appends `send_text` strings that wait for the socket into one frame. Twice that is plenty.
MAX_TEXT_CHARS = 16 * 1024
# Audio that may arrive before the metadata: mod_audio_stream sends the metadata from its
# connection callback while the media thread may already write frames. About 1 s is tolerated.
MAX_AUDIO_BEFORE_METADATA = 32000
RATES = {"8k": 8000, "8000": 8000, "16k": 16000, "16000": 16000}
DTMF_DIGITS = frozenset("0123456789*#ABCD")
MAX_ID_CHARS = 128
PLAIN_CALL_ID = re.compile(r"[A-Za-z0-9._:@+-]{1,128}")
# Our audio is handed over in playAudio/streamAudio messages of CHUNK_MS (metadata `chunk_ms`
# overrides it per call). Each message becomes a file that FreeSWITCH plays after the previous
# one, so: a chunk is sent only once it is complete (the first sound of a phrase comes CHUNK_MS
# late, and the echoed mark is up to CHUNK_MS early), and every file boundary costs a playback
# start (a gap of up to one 20 ms frame). Barge-in does not depend on it: `killAudio` stops the
# playing file and the hook flushes the queue, and the unsent remainder is dropped here.
CHUNK_MS = 200
CHUNK_MS_RANGE = (20, 2000)
FORK_SUBPROTOCOL = "audio.drachtio.org"


@dataclass(frozen=True)
class Dialect:
    """What differs between mod_audio_fork and mod_audio_stream on our side of the socket."""

    module: str
    audio_type: str  # the message the module turns into a file
    content_type_key: str
    content_key: str
    transcripts: bool  # mod_audio_fork fires `transcription` events; mod_audio_stream would log


FORK = Dialect("mod_audio_fork", "playAudio", "audioContentType", "audioContent", True)
STREAM = Dialect("mod_audio_stream", "streamAudio", "audioDataType", "audioData", False)


@dataclass(frozen=True)
class CallSetup:
    """What the metadata says about one call."""

    started: CallStarted
    chunk_ms: int


def json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects of one TEXT frame (mod_audio_fork may concatenate pending texts)."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    index, end = 0, len(text)
    while True:
        while index < end and text[index].isspace():
            index += 1
        if index == end:
            break
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise ProtocolError("bad_json", f"not JSON: {exc.msg}", CLOSE_UNSUPPORTED) from exc
        if not isinstance(value, dict):
            raise ProtocolError("bad_json", "a text frame must hold JSON objects")
        objects.append(cast(dict[str, Any], value))
    if not objects:
        raise ProtocolError("bad_json", "empty text frame", CLOSE_UNSUPPORTED)
    return objects


def _string(data: dict[str, Any], *keys: str) -> str:
    """The first of `keys` present, as a string ("" when none is)."""
    for key in keys:
        if key in data:
            value = data[key]
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise ProtocolError("bad_field", f"{key!r} must be a string")
            return str(value)
    return ""


def _rate(data: dict[str, Any]) -> int:
    value = data.get("sample_rate", 8000)
    rate = RATES.get(str(value)) if not isinstance(value, bool) else None
    if rate is None:
        raise ProtocolError(
            "bad_rate", f"'sample_rate' must be 8000 or 16000 (or 8k, 16k), got {value!r}"
        )
    return rate


def _chunk_ms(data: dict[str, Any]) -> int:
    value = data.get("chunk_ms", CHUNK_MS)
    low, high = CHUNK_MS_RANGE
    if type(value) is not int or not low <= value <= high or value % 20:
        raise ProtocolError(
            "bad_field", f"'chunk_ms' must be a multiple of 20 from {low} to {high}, got {value!r}"
        )
    return value


def parse_metadata(objects: list[dict[str, Any]]) -> CallSetup:
    """The first JSON object of the first TEXT frame -> the call.

    `call_id` (or `uuid`, or drachtio's example `callid`) is required; `caller`/`from`,
    `called`/`to`, `sample_rate` (8000 or 16000, as given to the start command; default 8000)
    and `chunk_ms` are optional; any other key goes to `CallStarted.metadata`.
    """
    data = objects[0]
    call_id = _string(data, "call_id", "uuid", "callid")
    if not call_id or len(call_id) > MAX_ID_CHARS:
        raise ProtocolError(
            "bad_field", f"the metadata needs a 'call_id' of 1..{MAX_ID_CHARS} characters"
        )
    known = {"call_id", "uuid", "callid", "caller", "from", "called", "to", "sample_rate"}
    metadata = {
        str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for k, v in data.items()
        if k not in known | {"chunk_ms"}
    }
    started = CallStarted(
        call_id=call_id,
        caller=_string(data, "caller", "from"),
        called=_string(data, "called", "to"),
        sample_rate=_rate(data),
        codec="pcm16",
        metadata=metadata,
    )
    return CallSetup(started, _chunk_ms(data))


def parse_first_text(text: str) -> tuple[CallSetup, list[dict[str, Any]]]:
    """The metadata frame -> the call, plus any control messages appended to it.

    A metadata that is not JSON but a bare id (e.g. `${uuid}`) is accepted as the call id of an
    8 kHz call whose numbers come from `POST /calls/{id}/announce`.
    """
    stripped = text.strip()
    if not stripped.startswith("{") and PLAIN_CALL_ID.fullmatch(stripped):
        started = CallStarted(stripped, "", "", 8000, "pcm16")
        return CallSetup(started, CHUNK_MS), []
    if not stripped.startswith("{"):
        raise ProtocolError(
            "bad_json",
            "the metadata must be a JSON object with 'call_id' (or a bare call id)",
            CLOSE_UNSUPPORTED,
        )
    objects = json_objects(text)
    return parse_metadata(objects), objects[1:]


def parse_control(data: dict[str, Any]) -> InboundEvent:
    """A `send_text` message of our FreeSWITCH hooks: `dtmf` or `stop`."""
    event = data.get("event")
    if event == "dtmf":
        digit = _string(data, "digit")
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ProtocolError("bad_field", f"not a DTMF digit: {digit!r}")
        return DtmfIn(digit)
    if event == "stop":
        return CallEnded(_string(data, "reason") or "hangup")
    raise ProtocolError("unknown_event", f"unknown event {event!r}")


def audio_in(payload: bytes) -> AudioIn:
    """A BINARY frame: mono L16 at the call's rate."""
    _check_audio_size(payload)
    if len(payload) % 2:
        raise ProtocolError("bad_audio", "L16 frames must have an even number of bytes")
    return AudioIn(payload)


def _check_audio_size(payload: bytes) -> None:
    if len(payload) > MAX_AUDIO_BYTES:
        raise ProtocolError(
            "frame_too_large",
            f"audio frame of {len(payload)} bytes > {MAX_AUDIO_BYTES}",
            CLOSE_TOO_BIG,
        )


def _text(kind: str, data: dict[str, Any] | None = None) -> str:
    # Compact and ASCII-only: the FreeSWITCH hook matches these bodies, and both modules log them.
    message: dict[str, Any] = {"type": kind} if data is None else {"type": kind, "data": data}
    return json.dumps(message, separators=(",", ":"))


class FreeswitchAdapter:
    """CallAdapter of one mod_audio_fork or mod_audio_stream connection."""

    def __init__(self, dialect: Dialect) -> None:
        """Nothing is known before the metadata frame."""
        self.dialect = dialect
        self.setup: CallSetup | None = None
        self.early_audio = 0
        self.pending = bytearray()

    def receive(self, message: Wire) -> Translation:
        """The metadata TEXT frame first, then L16 BINARY frames and our `send_text` messages."""
        if isinstance(message, str) and len(message) > MAX_TEXT_CHARS:
            raise ProtocolError(
                "frame_too_large",
                f"text frame of {len(message)} characters > {MAX_TEXT_CHARS}",
                CLOSE_TOO_BIG,
            )
        if self.setup is None:
            return self._before_start(message)
        if isinstance(message, bytes):
            # mod_audio_fork's graceful-shutdown sends an empty BINARY frame: nothing to hear.
            return Translation(events=(audio_in(message),)) if message else NOTHING
        return Translation(events=tuple(parse_control(item) for item in json_objects(message)))

    def _before_start(self, message: Wire) -> Translation:
        if isinstance(message, bytes):
            _check_audio_size(message)
            self.early_audio += len(message)
            if self.early_audio > MAX_AUDIO_BEFORE_METADATA:
                raise ProtocolError(
                    "expected_metadata",
                    f"{self.dialect.module} sent audio but no metadata: give the start command "
                    'a metadata argument such as {"call_id":"${uuid}"}',
                )
            return NOTHING
        setup, rest = parse_first_text(message)
        self.setup = setup
        return Translation(events=(setup.started, *(parse_control(item) for item in rest)))

    def send(self, event: OutboundEvent) -> Translation:
        """Audio in chunk-sized file messages, marks echoed, the rest as JSON the hook acts on."""
        if self.setup is None:
            return NOTHING
        if isinstance(event, PlayAudio):
            self.pending += event.pcm
            replies = self._chunks(final=event.mark is not None)
            marks = (PlaybackMark(event.mark),) if event.mark is not None else ()
            return Translation(events=marks, replies=tuple(replies))
        if isinstance(event, ClearAudio):
            self.pending.clear()
            return Translation(replies=(_text("killAudio"),))
        if isinstance(event, TransferCall):
            data = {"target": event.target, "context": dict(event.context)}
            replies = [*self._chunks(final=True), _text("transfer", data)]
            return Translation(replies=tuple(replies), close=True)
        if isinstance(event, Hangup):
            replies = [*self._chunks(final=True), _text("disconnect", {"reason": event.reason})]
            return Translation(replies=tuple(replies), close=True)
        if isinstance(event, CallerHeard) and event.final and self.dialect.transcripts:
            return Translation(replies=(_text("transcription", {"text": event.text}),))
        return NOTHING  # BotSaid, partial transcripts: nothing in FreeSWITCH needs them

    def _chunks(self, final: bool) -> list[str]:
        assert self.setup is not None
        rate = self.setup.started.sample_rate
        size = self.setup.chunk_ms * rate // 1000 * 2
        messages: list[str] = []
        while len(self.pending) >= size or (final and self.pending):
            chunk = bytes(self.pending[:size])
            del self.pending[:size]
            messages.append(self._audio_message(chunk, rate))
        return messages

    def _audio_message(self, pcm: bytes, rate: int) -> str:
        d = self.dialect
        data: dict[str, Any] = {
            d.content_type_key: "raw",
            "sampleRate": rate,
            d.content_key: base64.b64encode(pcm).decode("ascii"),
        }
        return _text(d.audio_type, data)

    def refuse(self, error: ProtocolError) -> tuple[Wire, ...]:
        """An `error` message (mod_audio_fork fires `mod_audio_fork::error` with its data)."""
        return (_text("error", {"code": error.code, "message": str(error)}),)


def new_fork_adapter() -> FreeswitchAdapter:
    """A mod_audio_fork connection."""
    return FreeswitchAdapter(FORK)


def new_stream_adapter() -> FreeswitchAdapter:
    """A mod_audio_stream connection."""
    return FreeswitchAdapter(STREAM)


# mod_audio_fork asks for the subprotocol audio.drachtio.org (MOD_AUDIO_FORK_SUBPROTOCOL_NAME);
# mod_audio_stream asks for none.
FORK_SPEC = AdapterSpec(
    name="freeswitch_fork",
    new=new_fork_adapter,
    path="/ws/freeswitch/fork",
    subprotocol=FORK_SUBPROTOCOL,
)
STREAM_SPEC = AdapterSpec(
    name="freeswitch_stream", new=new_stream_adapter, path="/ws/freeswitch/stream"
)
