"""Voice activity: a per-call speech detector and a pure endpointing state machine."""

from __future__ import annotations

from typing import Protocol


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
