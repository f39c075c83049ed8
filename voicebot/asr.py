"""Speech recognition interfaces: one recogniser per call, fed with the call's PCM16 audio."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from voicebot.events import Transcript


class Recognizer(Protocol):
    """One call's streaming recogniser; not thread-safe, used by one call at a time.

    `accept` takes mono PCM16 at the call's rate (the engine resamples to its own rate) and
    returns a partial transcript (`final=False`) when the partial text changed, a final one when
    the engine itself saw the end of an utterance, else None. `finish` forces the final
    transcript of the current utterance (empty text if nothing was heard) and makes the
    recogniser ready for the next utterance.
    """

    def accept(self, pcm: bytes) -> Transcript | None:
        """Feed audio; a transcript when there is news."""
        ...

    def finish(self) -> Transcript:
        """The final transcript of the utterance so far; resets for the next one."""
        ...

    def close(self) -> None:
        """The call is over: release the recogniser (an engine may keep it warm for reuse)."""
        ...


class RecognizerFactory(Protocol):
    """A loaded recognition model (one per process) that makes per-call recognisers."""

    @property
    def name(self) -> str:
        """The model's name, for logs and /readyz."""
        ...

    def new_recognizer(self, input_rate: int, phrases: Sequence[str] = ()) -> Recognizer:
        """A recogniser for audio at `input_rate`; `phrases` may bias it (if supported)."""
        ...
