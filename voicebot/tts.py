"""Speech output interfaces: a synthesiser engine turns text into PCM16 at its own rate."""

from __future__ import annotations

from typing import Protocol


class Synthesizer(Protocol):
    """A loaded voice (one per process); `synthesize` is synchronous and thread-safe enough to
    be called from one worker thread at a time."""

    @property
    def voice_id(self) -> str:
        """Identifies the voice and its settings: part of every phrase-cache key."""
        ...

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM16 this voice produces."""
        ...

    def synthesize(self, text: str) -> bytes:
        """Mono PCM16 at `sample_rate` for already-normalised text."""
        ...
