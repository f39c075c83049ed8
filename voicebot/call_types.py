"""What a call session needs and reports: the engines shared by the calls of a process, the
call settings, the recorder protocol, the timing of an answer and the result of a call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from voicebot.asr import RecognizerFactory
from voicebot.dialogue import DialoguePolicy
from voicebot.events import Escalation
from voicebot.hold_line import HandoffDesk
from voicebot.matcher import Matcher
from voicebot.playback import SpeechSource
from voicebot.vad import EndpointSettings, SpeechDetector


class CallRecorder(Protocol):
    """Where calls and turns are persisted (voicebot.store.CallStore implements it)."""

    def start_call(
        self,
        call_id: str,
        *,
        caller: str,
        called: str,
        codec: str,
        sample_rate: int,
        started_at: datetime,
        metadata: dict[str, str],
    ) -> None:
        """A call began."""
        ...

    def add_turn(
        self,
        call_id: str,
        role: str,
        text: str,
        *,
        started_at: datetime,
        kind: str | None = None,
        entry_id: str | None = None,
        decision: str | None = None,
        score: float | None = None,
        asr_confidence: float | None = None,
        alternatives: Sequence[str] = (),
    ) -> int:
        """One line of the conversation; returns its id."""
        ...

    def update_turn(
        self,
        turn_id: int,
        *,
        ended_at: datetime | None = None,
        heard: bool | None = None,
        interrupted: bool | None = None,
    ) -> None:
        """What became of a bot turn: played to the end, or cut by a barge-in."""
        ...

    def set_rating(self, call_id: str, rating: int) -> None:
        """The caller's post-call rating (1-5)."""
        ...

    def end_call(
        self,
        call_id: str,
        *,
        ended_at: datetime,
        outcome: str,
        end_reason: str,
        escalation: Escalation | None = None,
    ) -> None:
        """The call is over."""
        ...


@dataclass(frozen=True)
class CallSettings:
    """How a call behaves; defaults are what a hotline wants."""

    # A bare «да» is about 0.15 s: shorter bursts are clicks and line noise. At the early pause
    # the recogniser is finalised and the words matched speculatively, so that the reply can
    # start right at the pause (bench/latency.py).
    endpoint: EndpointSettings = field(
        default_factory=lambda: EndpointSettings(min_speech_s=0.12, early_pause_s=0.1)
    )
    # Speech this long interrupts the bot even before the recogniser has words for it.
    barge_in_speech_s: float = 0.7
    silence_timeout_s: float = 7.0
    max_call_s: float = 900.0
    prebuffer_frames: int = 3


@dataclass(frozen=True)
class CallEngines:
    """What every call shares in one process (models are loaded once)."""

    matcher: Matcher
    policy: DialoguePolicy
    recognizers: RecognizerFactory
    new_detector: Callable[[int], SpeechDetector]
    speech: SpeechSource
    recorder: CallRecorder | None = None
    handoff: HandoffDesk | None = None  # the operator queue; None: transfer at once


@dataclass
class TurnTiming:
    """Where the time of one answer went (seconds), for metrics and the latency benchmark."""

    endpoint_wait: float = 0.0
    asr_final: float = 0.0
    matching: float = 0.0
    speech_start: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """Rounded to the millisecond."""
        return {k: round(v, 3) for k, v in vars(self).items()}


@dataclass(frozen=True)
class CallResult:
    """How a call ended."""

    call_id: str
    outcome: str
    end_reason: str
    escalation: Escalation | None
    turns: int
