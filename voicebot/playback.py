"""Paced playback of the bot's speech: 20 ms frames in real time, so a barge-in stops the rest.

The player owns one call's outbound audio. Phrases are queued; each is turned into audio by a
`SpeechSource` (off the event loop), cut into frames and sent at the pace of real time (with a
small prebuffer against network jitter), followed by a mark. `interrupt()` cancels what has not
been sent and tells the PBX to drop what it still buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from voicebot.audio import bytes_per_frame
from voicebot.events import ClearAudio, OutboundEvent, PlayAudio


class SpeechSource(Protocol):
    """Turns a phrase into PCM16 at a rate, in chunks (the first one as early as possible)."""

    def chunks(self, text: str, sample_rate: int) -> Iterator[bytes]:
        """Audio of `text`, mono PCM16 at `sample_rate`, sentence by sentence."""
        ...


class Pacer(Protocol):
    """Time for pacing: real time in production, instant in unit tests."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Wait until `deadline` (monotonic seconds)."""
        ...


class RealTimePacer:
    """Paces by the monotonic clock."""

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the deadline (returns at once if it has passed)."""
        delay = deadline - time.monotonic()
        await asyncio.sleep(max(0.0, delay))


@dataclass
class Phrase:
    """One thing the bot says; `on_done(heard_fully)` is called when it is over."""

    text: str
    kind: str
    entry_id: str | None = None
    on_start: Callable[[], Awaitable[None]] | None = None
    on_done: Callable[[bool], Awaitable[None]] | None = None
    mark: str = ""
    first_audio_at: float | None = None


Send = Callable[[OutboundEvent], Awaitable[None]]


class Player:
    """One call's outbound audio: a queue of phrases played one after another."""

    def __init__(
        self,
        source: SpeechSource,
        send: Send,
        sample_rate: int,
        *,
        pacer: Pacer | None = None,
        frame_ms: int = 20,
        prebuffer_frames: int = 3,
        on_error: Callable[[Phrase, BaseException], Awaitable[None]] | None = None,
    ) -> None:
        """Frames of `frame_ms` at `sample_rate`; the first `prebuffer_frames` go out at once."""
        self.source = source
        self.send = send
        self.sample_rate = sample_rate
        self.pacer = pacer or RealTimePacer()
        self.frame_bytes = bytes_per_frame("pcm16", sample_rate, frame_ms)
        self.frame_s = frame_ms / 1000
        self.prebuffer_frames = prebuffer_frames
        self.on_error = on_error
        self._queue: list[Phrase] = []
        self._current: Phrase | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._marks = itertools.count(1)

    @property
    def speaking(self) -> bool:
        """Something is being played or waits in the queue."""
        return not self._idle.is_set()

    @property
    def current(self) -> Phrase | None:
        """The phrase being played now."""
        return self._current

    def say(self, phrase: Phrase) -> None:
        """Queue a phrase; playback starts at once if idle."""
        phrase.mark = phrase.mark or f"m{next(self._marks)}"
        self._queue.append(phrase)
        self._idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="voicebot-playback")

    async def wait_idle(self) -> None:
        """Until everything queued has been sent (or interrupted)."""
        await self._idle.wait()

    async def interrupt(self) -> list[Phrase]:
        """Barge-in: stop now, drop the queue, tell the PBX to flush; returns what was cut."""
        cut = await self._stop()
        await self.send(ClearAudio())
        for phrase in cut:
            if phrase.on_done is not None:
                await phrase.on_done(False)
        return cut

    async def close(self) -> None:
        """Stop without flushing the PBX (the call is over)."""
        await self._stop()

    async def _stop(self) -> list[Phrase]:
        """Cancel playback and empty the queue; the phrases that did not finish."""
        cut = ([self._current] if self._current else []) + self._queue
        self._queue = []
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._current = None
        self._idle.set()
        return cut

    async def _run(self) -> None:
        while self._queue:
            phrase = self._queue.pop(0)
            self._current = phrase
            try:
                await self._play(phrase)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._current = None
                if self.on_error is not None:
                    await self.on_error(phrase, exc)
                continue
            self._current = None
            if phrase.on_done is not None:
                await phrase.on_done(True)
        self._idle.set()

    async def _play(self, phrase: Phrase) -> None:
        if phrase.on_start is not None:
            await phrase.on_start()
        chunks = self.source.chunks(phrase.text, self.sample_rate)
        deadline = self.pacer.now()
        pending = b""
        sent = 0
        while True:
            chunk = await asyncio.to_thread(_next_or_none, chunks)
            if chunk is None:
                break
            pending += chunk
            while len(pending) >= self.frame_bytes:
                frame, pending = pending[: self.frame_bytes], pending[self.frame_bytes :]
                deadline = await self._send_frame(phrase, frame, sent, deadline)
                sent += 1
        if pending:
            frame = pending + b"\x00" * (self.frame_bytes - len(pending))
            deadline = await self._send_frame(phrase, frame, sent, deadline)
        # The mark follows the last frame; wait until that frame is due, so "done" means played.
        await self.pacer.sleep_until(deadline)
        await self.send(PlayAudio(b"", mark=phrase.mark))

    async def _send_frame(self, phrase: Phrase, frame: bytes, index: int, deadline: float) -> float:
        """Send one frame when it is due (minus the prebuffer); returns the next frame's due time."""
        now = self.pacer.now()
        if phrase.first_audio_at is None:
            phrase.first_audio_at = now
        if deadline < now:  # late (first frame, or synthesis slower than real time): new timeline
            deadline = now
        elif index >= self.prebuffer_frames:
            await self.pacer.sleep_until(deadline - self.prebuffer_frames * self.frame_s)
        await self.send(PlayAudio(frame))
        return deadline + self.frame_s


def _next_or_none(chunks: Iterator[bytes]) -> bytes | None:
    try:
        return next(chunks)
    except StopIteration:
        return None
