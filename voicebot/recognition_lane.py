"""Feeds one call's recogniser off the event loop, in order, without holding up anything else.

Streaming recognisers decode in bursts (Vosk runs its network every few hundred milliseconds of
audio), so a single `accept` may take 100 ms while most take microseconds. Voice activity and
barge-in must not wait for those bursts: the call session hands audio to this lane and goes on;
the lane batches whatever queued up meanwhile into one `accept`, and a `finish` waits only for
the audio fed before it.

A decoding call in a worker thread cannot be cancelled: `close` lets the one in flight end before
it closes the recogniser (a Kaldi recogniser reset or reused under a running decode crashes the
process).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from voicebot.asr import Recognizer
from voicebot.events import Transcript

MAX_BATCH_BYTES = 16000  # 0.5 s at 8 kHz: keeps partials flowing when the lane falls behind


class RecognitionLane:
    """One call's recogniser behind a queue: `feed` never blocks, `finish` keeps the order."""

    def __init__(
        self,
        recognizer: Recognizer,
        on_transcript: Callable[[Transcript], Awaitable[None]],
        on_error: Callable[[BaseException], Awaitable[None]],
    ) -> None:
        """Start the lane; transcripts and errors are reported through the callbacks."""
        self.recognizer = recognizer
        self.on_transcript = on_transcript
        self.on_error = on_error
        self._items: deque[bytes | asyncio.Future[Transcript]] = deque()
        self._wake = asyncio.Event()
        self._failed = False
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="voicebot-recognition")

    def feed(self, pcm: bytes) -> None:
        """Queue audio for recognition."""
        if not (self._failed or self._closing):
            self._items.append(pcm)
            self._wake.set()

    async def finish(self) -> Transcript:
        """The final transcript of everything fed so far; the recogniser resets for more."""
        if self._failed or self._closing:
            return Transcript("", True, 0.0)
        future: asyncio.Future[Transcript] = asyncio.get_running_loop().create_future()
        self._items.append(future)
        self._wake.set()
        return await future

    async def close(self) -> None:
        """Stop the lane: queued audio is dropped, pending finishes get an empty transcript, the
        decoding in flight ends, then the recogniser is closed."""
        self._closing = True
        for item in self._items:
            if isinstance(item, asyncio.Future) and not item.done():
                item.set_result(Transcript("", True, 0.0))
        self._items.clear()
        self._wake.set()
        # Cancelled while waiting: the recogniser may still be decoding, so it is left alone.
        await asyncio.shield(self._task)
        if not self._failed:
            await asyncio.to_thread(self.recognizer.close)

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._items and not self._closing:
                head = self._items[0]
                if isinstance(head, bytes):
                    await self._accept(self._take_batch())
                else:
                    self._items.popleft()
                    await self._finish(head)

    def _take_batch(self) -> bytes:
        batch = bytearray()
        while self._items and isinstance(self._items[0], bytes) and len(batch) < MAX_BATCH_BYTES:
            chunk = self._items.popleft()
            assert isinstance(chunk, bytes)
            batch += chunk
        return bytes(batch)

    async def _accept(self, pcm: bytes) -> None:
        if self._failed:
            return
        try:
            transcript = await asyncio.to_thread(self.recognizer.accept, pcm)
        except Exception as exc:
            self._failed = True
            if not self._closing:
                await self.on_error(exc)
            return
        if transcript is not None and not self._closing:
            await self.on_transcript(transcript)

    async def _finish(self, future: asyncio.Future[Transcript]) -> None:
        if self._failed:
            future.set_result(Transcript("", True, 0.0))
            return
        try:
            result = await asyncio.to_thread(self.recognizer.finish)
        except Exception as exc:
            self._failed = True
            future.set_result(Transcript("", True, 0.0))
            if not self._closing:
                await self.on_error(exc)
            return
        future.set_result(result)
