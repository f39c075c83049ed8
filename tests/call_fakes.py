"""Fakes for call-session unit tests; each implements the same Protocol as the real engine.

Audio convention of these tests: a 20 ms frame of constant non-zero samples is "speech", zeros
are silence. The fake recogniser hears the scripted utterances in order, one per stretch of
speech.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import numpy as np

from voicebot.events import Escalation, Transcript
from voicebot.queue import Callback, EntryState, EntryStatus, QueueEntry, WaitInputs

RATE = 8000
FRAME = RATE // 50 * 2  # bytes of one 20 ms PCM16 frame


def speech(seconds: float, level: int = 3000) -> bytes:
    """Constant-level 'speech' frames."""
    return np.full(int(RATE * seconds), level, dtype="<i2").tobytes()


def silence(seconds: float) -> bytes:
    """Digital silence."""
    return bytes(int(RATE * seconds) * 2)


def frames(pcm: bytes) -> list[bytes]:
    """Cut into 20 ms frames."""
    return [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]


class LevelDetector:
    """SpeechDetector: probability 1 for frames with signal, 0 for silence."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate

    def feed(self, pcm: bytes) -> list[tuple[float, float]]:
        samples = np.frombuffer(pcm, dtype="<i2")
        loud = float(np.abs(samples.astype(np.int32)).mean()) > 500 if len(samples) else False
        return [(len(samples) / self.sample_rate, 1.0 if loud else 0.0)]

    def reset(self) -> None:
        pass


@dataclass
class ScriptedRecognizer:
    """Recognizer: each stretch of speech is the next scripted utterance."""

    script: list[str]
    fail_on: str | None = None
    heard_speech: bool = False
    partial_words: int = 0
    closed: bool = False

    def accept(self, pcm: bytes) -> Transcript | None:
        samples = np.frombuffer(pcm, dtype="<i2")
        if len(samples) and np.abs(samples.astype(np.int32)).mean() > 500:
            self.heard_speech = True
            if self.script:
                self.partial_words += 1
                words = self.script[0].split()[: self.partial_words // 10 + 1]
                return Transcript(" ".join(words), False)
        return None

    def finish(self) -> Transcript:
        if not self.heard_speech or not self.script:
            return Transcript("", True)
        self.heard_speech = False
        self.partial_words = 0
        text = self.script.pop(0)
        if self.fail_on is not None and text == self.fail_on:
            raise RuntimeError("recogniser crashed")
        return Transcript(text, True, 0.9, (text + " ну",))

    def close(self) -> None:
        self.closed = True


@dataclass
class ScriptedRecognizers:
    """RecognizerFactory handing out one scripted recogniser."""

    script: list[str]
    fail_on: str | None = None
    made: list[ScriptedRecognizer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "scripted"

    def new_recognizer(self, input_rate: int, phrases: Sequence[str] = ()) -> ScriptedRecognizer:
        recognizer = ScriptedRecognizer(list(self.script), self.fail_on)
        self.made.append(recognizer)
        return recognizer


@dataclass
class ToneSpeech:
    """SpeechSource: 10 ms of tone per character (so answers take a realistic while)."""

    fail_on: str | None = None
    seconds_per_char: float = 0.01
    spoken: list[str] = field(default_factory=list)

    def chunks(self, text: str, sample_rate: int) -> Iterator[bytes]:
        if self.fail_on is not None and self.fail_on in text:
            raise RuntimeError("voice crashed")
        self.spoken.append(text)
        seconds = self.seconds_per_char * len(text)
        t = np.arange(int(sample_rate * seconds)) / sample_rate
        yield (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


class StreamPacer:
    """Pacer for unit tests: time is the caller's stream time, advanced as audio is fed."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep_until(self, deadline: float) -> None:
        while self.t < deadline - 1e-9:
            await asyncio.sleep(0.0005)


@dataclass
class MemoryRecorder:
    """CallRecorder in memory."""

    calls: dict[str, dict[str, object]] = field(default_factory=dict)
    turns: list[dict[str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start_call(self, call_id: str, **fields: object) -> None:
        with self.lock:
            self.calls[call_id] = dict(fields)

    def add_turn(self, call_id: str, role: str, text: str, **fields: object) -> int:
        with self.lock:
            self.turns.append({"call_id": call_id, "role": role, "text": text, **fields})
            return len(self.turns)

    def update_turn(self, turn_id: int, **fields: object) -> None:
        with self.lock:
            self.turns[turn_id - 1].update({k: v for k, v in fields.items() if v is not None})

    def set_rating(self, call_id: str, rating: int) -> None:
        with self.lock:
            self.calls[call_id]["rating"] = rating

    def end_call(
        self,
        call_id: str,
        *,
        ended_at: datetime,
        outcome: str,
        end_reason: str,
        escalation: Escalation | None = None,
    ) -> None:
        with self.lock:
            self.calls[call_id].update(
                ended_at=ended_at, outcome=outcome, end_reason=end_reason, escalation=escalation
            )


def fixed_clock() -> datetime:
    """A clock for records."""
    return datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class MemoryQueue:
    """CallQueue in memory: the test plays the operator by calling `take`."""

    entries: dict[int, dict[str, object]] = field(default_factory=dict)
    callbacks: list[dict[str, object]] = field(default_factory=list)
    ahead: int = 0
    operators: int = 1
    fail_enqueue: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enqueue(self, **fields: object) -> QueueEntry:
        if self.fail_enqueue:
            raise RuntimeError("queue database is down")
        with self.lock:
            entry_id = len(self.entries) + 1
            self.entries[entry_id] = {**fields, "state": "waiting", "extension": None}
        return QueueEntry(
            id=entry_id,
            call_id=str(fields["call_id"]),
            caller=str(fields["caller"]),
            topic=str(fields["topic"]),
            priority=int(cast(int, fields["priority"])),
            priority_reasons=tuple(cast(Sequence[str], fields["priority_reasons"])),
            reason=str(fields["reason"]),
            card=cast(Mapping[str, object], fields["card"]),
            state="waiting",
            enqueued_at=cast(datetime, fields["now"]),
        )

    def take(self, entry_id: int, extension: str) -> None:
        with self.lock:
            entry = self.entries[entry_id]
            if entry["state"] == "waiting":
                entry.update(state="taken", extension=extension)

    def status(self, entry_id: int, now: datetime | None = None) -> EntryStatus:
        with self.lock:
            entry = self.entries[entry_id]
            state = cast(EntryState, entry["state"])
            extension = cast(str | None, entry["extension"])
        wait = WaitInputs(self.ahead, self.operators, 0, (120.0,))
        return EntryStatus(state, extension, wait)

    def abandon(self, entry_id: int, now: datetime) -> bool:
        with self.lock:
            entry = self.entries[entry_id]
            if entry["state"] != "waiting":
                return False
            entry["state"] = "abandoned"
            return True

    def to_callback(self, entry_id: int, deadline: datetime, now: datetime) -> Callback | None:
        with self.lock:
            entry = self.entries[entry_id]
            if entry["state"] != "waiting":
                return None
            entry["state"] = "callback"
        return self.request_callback(
            call_id=str(entry["call_id"]),
            caller=str(entry["caller"]),
            topic=str(entry["topic"]),
            summary="",
            deadline=deadline,
            now=now,
        )

    def request_callback(
        self,
        *,
        call_id: str,
        caller: str,
        topic: str,
        summary: str,
        deadline: datetime,
        now: datetime,
    ) -> Callback:
        with self.lock:
            self.callbacks.append({"call_id": call_id, "caller": caller, "deadline": deadline})
            return Callback(
                len(self.callbacks), call_id, caller, topic, summary, now, deadline, "open"
            )


@dataclass(frozen=True)
class FixedHours:
    """WorkingHours: always open or always closed, reopening at `reopens`."""

    open_now: bool = True
    reopens: datetime = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def is_open(self, at: datetime, topic: str | None = None) -> bool:
        return self.open_now

    def next_open(self, at: datetime, topic: str | None = None) -> datetime | None:
        return at if self.open_now else self.reopens

    def hours_phrase(self, topic: str | None = None) -> str:
        return "Мы работаем с девяти до двадцати одного часа."
