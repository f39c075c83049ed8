"""A simulated PBX for the generic WebSocket protocol (docs/bridge-protocol.md).

`simulate_call` plays a caller recording into the bridge in real time, keeps the line open with
silence afterwards (as a PBX does), plays the bot's audio out of a playout buffer, echoes marks
once they are played, and reports what happened: events, what the bot heard and said, the answer
latency of every caller utterance, the bot's audio on the call timeline and playout underruns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from voicebot.audio import Codec, decode, encode, resample
from voicebot.errors import VoicebotError

FRAME_S = 0.02
MAX_MESSAGE_BYTES = 8000
# Speech segments closer than this are one utterance.
MIN_PAUSE_S = 0.6
# Shorter bursts of energy are clicks, not speech.
MIN_SPEECH_S = 0.1
# A playout buffer "ran empty" only when the gap is longer than clock noise.
UNDERRUN_TOLERANCE_S = 0.001
CLOSE_UNAUTHORIZED = 4401
CLOSE_TRY_LATER = 1013
CODECS: tuple[str, ...] = ("alaw", "ulaw", "pcm16")


class CallRefusedError(VoicebotError):
    """The bridge could not be reached or refused the call (bad token, not ready, bad URL)."""

    code = "call_refused"

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code


@dataclass(frozen=True)
class CallEvent:
    """Something that happened on the call, `at` seconds after `start` was sent."""

    at: float
    kind: str
    text: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Utterance:
    """A caller speech segment: seconds from the start of the recording."""

    start: float
    end: float


@dataclass(frozen=True)
class AnswerLatency:
    """How long the caller waited: from the end of an utterance to the bot's next phrase."""

    utterance: Utterance
    ended_at: float
    answered_at: float | None

    @property
    def seconds(self) -> float | None:
        """The answer latency, or None when the bot did not answer before the caller went on."""
        return None if self.answered_at is None else self.answered_at - self.ended_at


@dataclass(frozen=True)
class CallReport:
    """Everything the simulated PBX observed on one call."""

    call_id: str
    codec: str
    sample_rate: int
    events: tuple[CallEvent, ...]
    heard: tuple[str, ...]
    said: tuple[str, ...]
    latencies: tuple[AnswerLatency, ...]
    bot_audio: bytes
    underruns: int
    underrun_s: float
    marks_echoed: tuple[str, ...]
    ended_by: str  # hangup | transfer | timeout | closed | error
    end_reason: str
    transfer_target: str
    transfer_context: Mapping[str, str]
    close_code: int | None
    duration: float

    @property
    def answer_latencies(self) -> tuple[float, ...]:
        """The measured latencies of the answered utterances, in seconds."""
        return tuple(x.seconds for x in self.latencies if x.seconds is not None)


def call_rate(codec: str, sample_rate: int) -> int:
    """The call's sample rate: 8 kHz for G.711, 8 or 16 kHz for pcm16."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; use alaw, ulaw or pcm16")
    if codec != "pcm16":
        return 8000
    return 16000 if sample_rate >= 16000 else 8000


def find_utterances(
    pcm: bytes, sample_rate: int, *, min_pause_s: float = MIN_PAUSE_S
) -> tuple[Utterance, ...]:
    """Energy-based speech segments of a PCM16 clip, joined across pauses under `min_pause_s`."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    size = max(1, round(sample_rate * FRAME_S))
    count = len(samples) // size
    if count == 0:
        return ()
    frames = samples[: count * size].reshape(count, size)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    level = 20 * np.log10(np.maximum(rms, 1e-9) / 32768.0)
    threshold = max(-50.0, float(level.max()) - 35.0)
    voiced = np.flatnonzero(level > threshold)
    segments: list[list[int]] = []
    for index in voiced.tolist():
        if segments and (index - segments[-1][1] - 1) * FRAME_S < min_pause_s:
            segments[-1][1] = index
        else:
            segments.append([index, index])
    return tuple(
        Utterance(round(first * FRAME_S, 3), round((last + 1) * FRAME_S, 3))
        for first, last in segments
        if (last + 1 - first) * FRAME_S >= MIN_SPEECH_S
    )


class _Playout:
    """The PBX side of one call: playout buffer, bot audio timeline, events, marks."""

    def __init__(
        self, codec: str, rate: int, clock: Clock, on_event: Callable[[CallEvent], None] | None
    ) -> None:
        self.on_event = on_event
        self.codec = cast(Codec, codec)
        self.rate = rate
        self.clock = clock
        self.events: list[CallEvent] = []
        self.heard: list[str] = []
        self.said: list[str] = []
        self.audio = bytearray()
        self.buffer_end = 0.0
        self.in_phrase = False
        self.phrase_starts: list[float] = []
        self.underruns = 0
        self.underrun_s = 0.0
        self.pending_marks: list[tuple[float, str]] = []
        self.marks_echoed: list[str] = []
        self.ended_by = ""
        self.end_reason = ""
        self.transfer_target = ""
        self.transfer_context: dict[str, str] = {}
        self.error: tuple[str, str] | None = None
        self.finished = asyncio.Event()
        self.closed = False

    def note(self, kind: str, text: str = "", /, **fields: str) -> None:
        event = CallEvent(round(self.clock.now(), 3), kind, text, fields)
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def on_audio(self, payload: bytes) -> None:
        now = self.clock.now()
        pcm = decode(payload, self.codec)
        if self.buffer_end < now - UNDERRUN_TOLERANCE_S:  # the buffer ran dry
            if self.in_phrase:
                gap = now - self.buffer_end
                self.underruns += 1
                self.underrun_s += gap
                self.note("underrun", gap_ms=str(round(gap * 1000)))
            start = now
        else:
            start = self.buffer_end
        if not self.in_phrase:
            self.in_phrase = True
            self.phrase_starts.append(now)
            self.note("audio")
        offset = round(start * self.rate) * 2
        if len(self.audio) < offset:
            self.audio.extend(bytes(offset - len(self.audio)))
        self.audio[offset : offset + len(pcm)] = pcm
        self.buffer_end = start + len(pcm) / 2 / self.rate

    def on_text(self, text: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            self.note("invalid", text[:200])
            return
        if not isinstance(data, dict):
            self.note("invalid", text[:200])
            return
        message = cast(dict[str, Any], data)
        event = str(message.get("event", ""))
        if event == "transcript":
            final = bool(message.get("final", True))
            heard = str(message.get("text", ""))
            if final:
                self.heard.append(heard)
            self.note("transcript", heard, final=str(final).lower())
        elif event == "say":
            said = str(message.get("text", ""))
            self.said.append(said)
            extra = {k: str(message[k]) for k in ("kind", "entry_id") if message.get(k)}
            self.note("say", said, **extra)
        elif event == "mark":
            name = str(message.get("name", ""))
            self.pending_marks.append((max(self.clock.now(), self.buffer_end), name))
            self.in_phrase = False
            self.note("mark", name)
        elif event == "clear":
            self._clear()
        elif event in ("hangup", "transfer"):
            self._end(event, message)
        elif event == "error":
            code, detail = str(message.get("code", "")), str(message.get("message", ""))
            self.error = (code, detail)
            self.note("error", detail, code=code)
        else:
            self.note("unknown", text[:200])

    def _clear(self) -> None:
        now = self.clock.now()
        offset = round(now * self.rate) * 2
        dropped = max(0.0, self.buffer_end - now)
        if len(self.audio) > offset:
            del self.audio[offset:]
        self.buffer_end = min(self.buffer_end, now)
        self.pending_marks = [(at, name) for at, name in self.pending_marks if at <= now]
        self.in_phrase = False
        self.note("clear", dropped_ms=str(round(dropped * 1000)))

    def _end(self, event: str, message: dict[str, Any]) -> None:
        if self.ended_by:
            return
        self.ended_by = event
        if event == "hangup":
            self.end_reason = str(message.get("reason", ""))
            self.note("hangup", self.end_reason)
        else:
            self.transfer_target = str(message.get("target", ""))
            raw = message.get("context", {})
            context = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
            self.transfer_context = {str(k): str(v) for k, v in context.items()}
            self.end_reason = self.transfer_context.get("reason", "")
            self.note("transfer", self.transfer_target, **self.transfer_context)
        self.finished.set()

    def due_marks(self) -> list[str]:
        """Marks whose audio has been played by now (to echo back)."""
        now = self.clock.now()
        due = [name for at, name in self.pending_marks if at <= now]
        self.pending_marks = [(at, name) for at, name in self.pending_marks if at > now]
        return due


class Clock:
    """Seconds since the call started (monotonic)."""

    def __init__(self) -> None:
        """Starts now."""
        self.origin = time.monotonic()

    def now(self) -> float:
        """Seconds since the origin."""
        return time.monotonic() - self.origin


@dataclass
class _Sent:
    """When the utterances' starts and ends went out on the call timeline."""

    starts: dict[int, float] = field(default_factory=dict)
    ends: dict[int, float] = field(default_factory=dict)


def _frames(pcm: bytes, rate: int, codec: Codec) -> list[bytes]:
    size = round(rate * FRAME_S) * 2
    padded = pcm + bytes(-len(pcm) % size)
    return [encode(padded[i : i + size], codec) for i in range(0, len(padded), size)]


def _auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _connect(url: str, token: str) -> ClientConnection:
    try:
        return await connect(
            url,
            additional_headers=_auth_headers(token),
            compression=None,
            open_timeout=10,
            max_size=2**20,
        )
    except InvalidURI as exc:
        raise CallRefusedError(f"неверный адрес {url!r}: {exc}") from exc
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise CallRefusedError(f"сервер {url} отклонил подключение: HTTP {status}") from exc
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CallRefusedError(f"нет подключения к {url}: {reason or type(exc).__name__}") from exc


async def _receive(ws: ClientConnection, playout: _Playout) -> None:
    try:
        async for message in ws:
            if isinstance(message, bytes):
                playout.on_audio(message)
            else:
                playout.on_text(message)
    except ConnectionClosed:
        pass
    finally:
        playout.closed = True
        playout.finished.set()


async def _send_call(
    ws: ClientConnection,
    playout: _Playout,
    frames: Sequence[bytes],
    utterances: Sequence[Utterance],
    *,
    realtime: bool,
    max_seconds: float,
) -> _Sent:
    """Stream the recording, then silence, until the bot ends the call or time runs out."""
    clock = playout.clock
    sent = _Sent()
    start_frame = {math.floor(u.start / FRAME_S): i for i, u in enumerate(utterances)}
    end_frame = {max(0, math.ceil(u.end / FRAME_S) - 1): i for i, u in enumerate(utterances)}
    silence = encode(bytes(round(playout.rate * FRAME_S) * 2), playout.codec)
    burst = max(1, MAX_MESSAGE_BYTES // max(1, len(silence)))
    due = clock.now() + FRAME_S
    index = 0
    try:
        while True:
            paced = realtime or index >= len(frames)
            if paced:  # frame k of the recording goes out once it is "captured": at (k + 1) * 20 ms
                await asyncio.sleep(max(0.0, due - clock.now()))
                due += FRAME_S
            if playout.finished.is_set():
                break
            if clock.now() >= max_seconds:
                playout.ended_by = "timeout"
                playout.note("timeout")
                break
            for name in playout.due_marks():
                await ws.send(json.dumps({"event": "mark", "name": name}))
                playout.marks_echoed.append(name)
                playout.note("mark_played", name)
            count = 1 if paced else min(burst, len(frames) - index)
            payload = silence if index >= len(frames) else b"".join(frames[index : index + count])
            await ws.send(payload)
            sent_at = clock.now()
            for k in range(index, index + count):
                lag = (k + 1) * FRAME_S if realtime else 0.0
                if k in start_frame:
                    u = utterances[start_frame[k]]
                    sent.starts[start_frame[k]] = sent_at - max(0.0, lag - u.start)
                if k in end_frame:
                    u = utterances[end_frame[k]]
                    sent.ends[end_frame[k]] = sent_at - max(0.0, lag - u.end)
            index += count
            if not paced:
                due = clock.now() + FRAME_S
    except ConnectionClosed:
        return sent
    if not playout.closed:
        reason = "transfer" if playout.ended_by == "transfer" else "hangup"
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"event": "stop", "reason": reason}))
            playout.note("stop", reason)
    return sent


def _latencies(
    utterances: Sequence[Utterance], sent: _Sent, phrase_starts: Sequence[float]
) -> tuple[AnswerLatency, ...]:
    result = []
    for i, utterance in enumerate(utterances):
        ended_at = sent.ends.get(i)
        if ended_at is None:
            continue
        until = sent.starts.get(i + 1, math.inf)
        answers = [t for t in phrase_starts if ended_at < t < until]
        result.append(AnswerLatency(utterance, round(ended_at, 3), answers[0] if answers else None))
    return tuple(result)


async def simulate_call(
    url: str,
    token: str,
    audio_pcm: bytes,
    sample_rate: int,
    *,
    codec: str = "alaw",
    caller: str = "+79990000000",
    called: str = "88001234567",
    call_id: str | None = None,
    max_seconds: float = 60,
    realtime: bool = True,
    metadata: Mapping[str, str] | None = None,
    close_timeout: float = 3.0,
    on_event: Callable[[CallEvent], None] | None = None,
) -> CallReport:
    """Play a caller recording (mono PCM16 at `sample_rate`) into the bridge at `url`.

    With `realtime=False` the recording goes out as fast as the socket takes it (so timings only
    show processing speed); the silence after it is always paced. Raises CallRefusedError when
    the bridge cannot be reached, refuses the token (4401) or is not ready yet (1013).
    `on_event` sees every event as it happens (for a live log).
    """
    rate = call_rate(codec, sample_rate)
    utterances = find_utterances(audio_pcm, sample_rate)
    frames = _frames(resample(audio_pcm, sample_rate, rate), rate, cast(Codec, codec))
    call_id = call_id or uuid.uuid4().hex[:12]
    start = {
        "event": "start",
        "call_id": call_id,
        "caller": caller,
        "called": called,
        "codec": codec,
        "sample_rate": rate,
        "metadata": dict(metadata or {"source": "voicebot call"}),
    }
    ws = await _connect(url, token)
    clock = Clock()
    playout = _Playout(codec, rate, clock, on_event)
    async with ws:
        receiver = asyncio.create_task(_receive(ws, playout), name=f"sim-receive-{call_id}")
        try:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps(start))
                playout.note("start", call_id)
            sent = await _send_call(
                ws, playout, frames, utterances, realtime=realtime, max_seconds=max_seconds
            )
            try:
                await asyncio.wait_for(asyncio.shield(receiver), close_timeout)
            except TimeoutError:
                await ws.close()
                await receiver
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
    duration = clock.now()
    close_code = ws.close_code
    playout.note("closed", str(close_code))
    _refused(close_code, playout.error, url)
    if not playout.ended_by:
        playout.ended_by = "error" if playout.error else "closed"
        playout.end_reason = playout.error[0] if playout.error else ""
    audio = bytes(playout.audio) + bytes(max(0, round(duration * rate) * 2 - len(playout.audio)))
    return CallReport(
        call_id=call_id,
        codec=codec,
        sample_rate=rate,
        events=tuple(playout.events),
        heard=tuple(playout.heard),
        said=tuple(playout.said),
        latencies=_latencies(utterances, sent, playout.phrase_starts),
        bot_audio=audio,
        underruns=playout.underruns,
        underrun_s=round(playout.underrun_s, 3),
        marks_echoed=tuple(playout.marks_echoed),
        ended_by=playout.ended_by,
        end_reason=playout.end_reason,
        transfer_target=playout.transfer_target,
        transfer_context=dict(playout.transfer_context),
        close_code=close_code,
        duration=round(duration, 3),
    )


def _refused(close_code: int | None, error: tuple[str, str] | None, url: str) -> None:
    detail = f": {error[1]}" if error and error[1] else ""
    if close_code == CLOSE_UNAUTHORIZED:
        raise CallRefusedError(
            f"сервер {url} не принял токен (код {close_code}{detail}); "
            "проверьте --token или VOICEBOT_BRIDGE_TOKEN",
            close_code,
        )
    if close_code == CLOSE_TRY_LATER:
        raise CallRefusedError(
            f"бот ещё не готов (код {close_code}{detail}); повторите через несколько секунд",
            close_code,
        )
