"""The vocabulary shared by adapters, the call session and the core: frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# --- inbound, from a PBX adapter -------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    """A call began; audio follows in the given codec and rate."""

    call_id: str
    caller: str
    called: str
    sample_rate: int
    codec: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AudioIn:
    """A chunk of caller audio, mono PCM16 at the call's rate."""

    pcm: bytes


@dataclass(frozen=True)
class DtmfIn:
    """The caller pressed a key."""

    digit: str


@dataclass(frozen=True)
class PlaybackMark:
    """The PBX played everything up to the named mark."""

    name: str


@dataclass(frozen=True)
class CallEnded:
    """The call is over (caller hung up, PBX closed the stream, ...)."""

    reason: str


# --- outbound, to a PBX adapter ----------------------------------------------------


@dataclass(frozen=True)
class PlayAudio:
    """Play mono PCM16 at the call's rate; `mark` is reported back once played."""

    pcm: bytes
    mark: str | None = None


@dataclass(frozen=True)
class ClearAudio:
    """Drop every queued frame at once (barge-in)."""


@dataclass(frozen=True)
class TransferCall:
    """Hand the call to a person: `target` is a queue or extension."""

    target: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hangup:
    """End the call from our side."""

    reason: str


@dataclass(frozen=True)
class CallerHeard:
    """Informational: what the bot recognised (PBXs may ignore it; the simulator prints it)."""

    text: str
    final: bool


@dataclass(frozen=True)
class BotSaid:
    """Informational: the text of what the bot is about to say."""

    text: str
    kind: str
    entry_id: str | None = None


InboundEvent = CallStarted | AudioIn | DtmfIn | PlaybackMark | CallEnded
OutboundEvent = PlayAudio | ClearAudio | TransferCall | Hangup | CallerHeard | BotSaid

# --- core --------------------------------------------------------------------------

DecisionKind = Literal["answer", "clarify", "escalate"]
Role = Literal["caller", "bot", "operator"]


@dataclass(frozen=True)
class Transcript:
    """What the recogniser heard; `alternatives` are lower-ranked n-best texts."""

    text: str
    final: bool
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()
    words: tuple[tuple[str, float], ...] = ()  # (word, confidence) of `text`, when known


@dataclass(frozen=True)
class Candidate:
    """One knowledge-base entry scored against a question."""

    entry_id: str
    score: float
    lexical: float
    semantic: float


@dataclass(frozen=True)
class Decision:
    """The matcher's verdict: answer with `entry_id`, clarify between candidates, or escalate."""

    kind: DecisionKind
    entry_id: str | None
    candidates: tuple[Candidate, ...]
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One line of the conversation."""

    role: Role
    text: str
    at: datetime


@dataclass(frozen=True)
class Escalation:
    """A call handed to people, with what they need to know before saying hello."""

    call_id: str
    reason: str
    topic: str
    priority: int
    summary: str
    turns: tuple[Turn, ...]
