"""Voice activity: a per-call speech detector and a pure endpointing state machine.

The `Endpointer` is fed with `(window_seconds, speech_probability)` pairs (from any
`SpeechDetector`) and turns them into events. All times are stream seconds, the sum of the
window lengths fed since the endpointer was made; it never reads a clock.

The events of one utterance always come in this order::

    SpeechStarted ([EarlyPause] [PauseDetected] SpeechStarted)* [EarlyPause] [PauseDetected]
    SpeechEnded

(at least one of the two pauses before every inner `SpeechStarted`). A `SpeechStarted` after a
pause means the caller went on (the pause is cancelled). `EarlyPause` comes only when
`early_pause_s` is set: a first short silence, before `PauseDetected`, at which a caller may
start the work of the pause speculatively (finalising the recogniser, matching) and keep it for
the pause; every early pause is followed by a `PauseDetected`, a `SpeechStarted` or (when the
utterance is cut) a `SpeechEnded`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

from voicebot.errors import ConfigError

# Tolerance for sums of float window lengths (0.02 * 10 != 0.2 in binary floating point).
_EPS = 1e-9


class SpeechDetector(Protocol):
    """One call's voice-activity detector, fed with PCM16 at the call's rate.

    `feed` buffers audio and returns one (seconds, speech_probability) pair per complete
    analysis window it could evaluate (possibly none).
    """

    def feed(self, pcm: bytes) -> list[tuple[float, float]]:
        """Analyse the next audio; one (window_seconds, probability) pair per window."""
        ...

    def reset(self) -> None:
        """Forget the state (new utterance or after a long pause)."""
        ...


@dataclass(frozen=True)
class EndpointSettings:
    """When speech counts, when a pause is short and when the caller has definitely finished."""

    speech_threshold: float = 0.5  # a window at or above this starts speech
    silence_threshold: float = 0.35  # speech goes on until a window falls below this
    min_speech_s: float = 0.2  # shorter bursts (clicks, coughs) are ignored
    pause_s: float = 0.25  # a short pause: the caller may have finished
    # A shorter silence first reported as EarlyPause (None: never); must be below pause_s.
    early_pause_s: float | None = None
    end_silence_s: float = 0.8  # the caller has finished
    max_utterance_s: float = 20.0  # an utterance is cut here (forced end)

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.silence_threshold <= self.speech_threshold <= 1.0:
            problems.append(
                "need 0 <= silence_threshold <= speech_threshold <= 1, got "
                f"{self.silence_threshold} and {self.speech_threshold}"
            )
        if not self.min_speech_s >= 0.0:  # also rejects NaN
            problems.append(f"min_speech_s must not be negative, got {self.min_speech_s}")
        if not 0.0 < self.pause_s <= self.end_silence_s:
            problems.append(
                f"need 0 < pause_s <= end_silence_s, got {self.pause_s} and {self.end_silence_s}"
            )
        early = self.early_pause_s
        if early is not None and not 0.0 < early < self.pause_s:
            problems.append(f"need 0 < early_pause_s < pause_s, got {early} and {self.pause_s}")
        if not self.max_utterance_s > self.min_speech_s:
            problems.append(
                f"max_utterance_s ({self.max_utterance_s}) must exceed min_speech_s "
                f"({self.min_speech_s})"
            )
        if problems:
            raise ConfigError("bad endpoint settings: " + "; ".join(problems))


@dataclass(frozen=True)
class SpeechStarted:
    """Speech (re)started at stream time `at_s`; sent once `min_speech_s` of it has been heard."""

    at_s: float


@dataclass(frozen=True)
class EarlyPause:
    """A first short silence (`early_pause_s`) after `speech_s` of speech: a pause may follow."""

    silence_s: float
    speech_s: float


@dataclass(frozen=True)
class PauseDetected:
    """A short pause: `silence_s` of silence after `speech_s` of speech in this utterance."""

    silence_s: float
    speech_s: float


@dataclass(frozen=True)
class SpeechEnded:
    """The utterance is over: after `trailing_silence_s` of silence, or cut (`forced`)."""

    speech_s: float
    trailing_silence_s: float
    forced: bool = False


EndpointEvent = SpeechStarted | EarlyPause | PauseDetected | SpeechEnded


class Endpointer:
    """Pure endpointing state machine for one call (no I/O, no clock).

    A window is speech by hysteresis: it becomes speech at `speech_threshold` and stays speech
    until the probability falls below `silence_threshold`. A run of speech windows counts only
    once it lasts `min_speech_s`; until then it is provisional, and a run that stops short is
    treated as the silence it interrupted (a click in a pause neither resets the pause nor
    extends the utterance). `speech_s` counts the speech windows of the utterance (its pauses
    excluded).
    """

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        """An endpointer with `settings` (defaults if None)."""
        self.settings = settings or EndpointSettings()
        self._now = 0.0
        self._last_end: float | None = None
        self._clear()

    def _clear(self) -> None:
        self._voiced = False  # hysteresis state of the last window
        self._run_start: float | None = None  # provisional run of speech windows
        self._run_s = 0.0
        self._open = False  # between SpeechStarted and SpeechEnded
        self._started_at: float | None = None
        self._speech_s = 0.0
        self._paused = False  # a PauseDetected is outstanding
        self._early = False  # an EarlyPause is outstanding

    # --- what a caller may read -----------------------------------------------------------

    @property
    def now_s(self) -> float:
        """Stream time: the end of the last window fed."""
        return self._now

    @property
    def in_speech(self) -> bool:
        """An utterance is going on: SpeechStarted was sent and SpeechEnded not yet."""
        return self._open

    @property
    def speech_s(self) -> float:
        """Seconds of counted speech in the current utterance (0 outside an utterance)."""
        return self._speech_s if self._open else 0.0

    @property
    def utterance_started_at_s(self) -> float | None:
        """Stream time the current utterance began (None outside an utterance)."""
        return self._started_at if self._open else None

    @property
    def last_speech_end_s(self) -> float | None:
        """Stream time the last counted speech ended (kept after SpeechEnded; None if never)."""
        return self._last_end

    @property
    def trailing_silence_s(self) -> float:
        """Seconds since the last counted speech ended (0 if there has been none)."""
        return self._now - self._last_end if self._last_end is not None else 0.0

    # --- feeding ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the utterance, the hysteresis and the last speech end; stream time goes on."""
        self._last_end = None
        self._clear()

    def update(self, seconds: float, probability: float) -> list[EndpointEvent]:
        """Feed one analysis window; the events it causes, in order."""
        if not (math.isfinite(seconds) and seconds >= 0.0):
            raise ValueError(f"window length must be a finite non-negative number, got {seconds}")
        if not 0.0 <= probability <= 1.0:  # also rejects NaN
            raise ValueError(f"speech probability must be within [0, 1], got {probability}")
        start, self._now = self._now, self._now + seconds
        settings = self.settings
        threshold = settings.silence_threshold if self._voiced else settings.speech_threshold
        self._voiced = probability >= threshold
        events: list[EndpointEvent] = []
        if self._voiced:
            self._on_speech_window(start, seconds, events)
        else:
            self._run_start, self._run_s = None, 0.0
            if self._open:
                self._check_silence(events)
        if (
            self._open
            and self._started_at is not None
            and self._now - self._started_at >= settings.max_utterance_s - _EPS
        ):
            events.append(SpeechEnded(self._speech_s, self.trailing_silence_s, forced=True))
            self._close()
        return events

    def _on_speech_window(self, start: float, seconds: float, events: list[EndpointEvent]) -> None:
        if self._open and self._run_start is None and self._last_end == start:
            # speech going on without a gap
            self._speech_s += seconds
            self._last_end = self._now
            return
        if self._run_start is None:
            self._run_start = start
        self._run_s += seconds
        if self._run_s < self.settings.min_speech_s - _EPS:
            return  # provisional: not speech yet
        run_start, run_s = self._run_start, self._run_s
        self._run_start, self._run_s = None, 0.0
        self._last_end = self._now
        if not self._open:
            self._open = True
            self._started_at = run_start
            self._speech_s = run_s
            events.append(SpeechStarted(run_start))
        else:
            self._speech_s += run_s
            if self._paused or self._early:
                self._paused = self._early = False
                events.append(SpeechStarted(run_start))

    def _check_silence(self, events: list[EndpointEvent]) -> None:
        silence = self.trailing_silence_s
        early = self.settings.early_pause_s
        if early is not None and not (self._early or self._paused) and silence >= early - _EPS:
            self._early = True
            events.append(EarlyPause(silence, self._speech_s))
        if not self._paused and silence >= self.settings.pause_s - _EPS:
            self._paused = True
            events.append(PauseDetected(silence, self._speech_s))
        if silence >= self.settings.end_silence_s - _EPS:
            events.append(SpeechEnded(self._speech_s, silence, forced=False))
            self._close()

    def _close(self) -> None:
        last_end = self._last_end
        self._clear()
        self._last_end = last_end


# --- backchannels -----------------------------------------------------------------------------

# What a listener says to show they are listening, not to take the turn. Written as
# `is_backchannel` compares: lower case, ё -> е, repeated letters collapsed («угууу» -> «угу»,
# «мммм» -> «м»).
BACKCHANNEL_WORDS = frozenset(
    {
        "угу", "ага", "мгм", "м", "хм", "эм", "э", "а", "ах", "о", "у",
        "да", "ну", "так", "вот", "хорошо", "понятно", "ясно", "ладно", "конечно",
        "верно", "точно", "понял", "поняла", "ок", "окей", "ok", "okay",
    }
)  # fmt: skip
# More different words than this is a sentence, even if every word is a filler.
MAX_BACKCHANNEL_WORDS = 4

_NOT_WORD = re.compile(r"[^\w-]+")  # any script: Korean words are words too
_REPEATED_LETTER = re.compile(r"(.)\1+")


def _words(text: str) -> list[str]:
    """Lower-case words with ё -> е and stretched letters collapsed («Та-а-ак» -> «так»)."""
    words: list[str] = []
    for token in _NOT_WORD.sub(" ", text.lower().replace("ё", "е")).split():
        joined = _REPEATED_LETTER.sub(r"\1", token.replace("-", ""))
        if joined in BACKCHANNEL_WORDS or "-" not in token:
            words.append(joined)
        else:  # «да-да», «угу-угу»: separate words
            words += [_REPEATED_LETTER.sub(r"\1", part) for part in token.split("-") if part]
    return [word for word in words if word]


def is_backchannel(text: str) -> bool:
    """True for «угу», «ага», «да-да», «ну хорошо»... (the bot keeps speaking); False for real words.

    Empty text is a backchannel too (nothing to react to yet). Case, ё, punctuation and repeated
    words or letters do not matter.
    """
    words = _words(text)
    distinct = [word for i, word in enumerate(words) if i == 0 or word != words[i - 1]]
    return len(distinct) <= MAX_BACKCHANNEL_WORDS and all(w in BACKCHANNEL_WORDS for w in distinct)
