"""The recognition lane: order, batching, finish after the audio before it, failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from voicebot.events import Transcript
from voicebot.recognition_lane import RecognitionLane


class CountingRecognizer:
    """Recognizer that 'hears' how many bytes it got; slow, like a decoding burst."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[int] = []
        self.heard = 0
        self.fail_after = fail_after
        self.gate = threading.Event()
        self.gate.set()
        self.closed = False

    def accept(self, pcm: bytes) -> Transcript | None:
        self.gate.wait(5)
        self.calls.append(len(pcm))
        self.heard += len(pcm)
        if self.fail_after is not None and self.heard > self.fail_after:
            raise RuntimeError("decoder crashed")
        return Transcript(str(self.heard), False)

    def finish(self) -> Transcript:
        text, self.heard = str(self.heard), 0
        return Transcript(text, True)

    def close(self) -> None:
        self.closed = True


async def _run(
    recognizer: CountingRecognizer, chunks: Sequence[bytes]
) -> tuple[list[Transcript], list[BaseException], Transcript]:
    partials: list[Transcript] = []
    errors: list[BaseException] = []

    async def on_transcript(t: Transcript) -> None:
        partials.append(t)

    async def on_error(e: BaseException) -> None:
        errors.append(e)

    lane = RecognitionLane(recognizer, on_transcript, on_error)
    recognizer.gate.clear()  # the first accept blocks: everything after it queues up
    for chunk in chunks:
        lane.feed(chunk)
        await asyncio.sleep(0)
    recognizer.gate.set()
    final = await asyncio.wait_for(lane.finish(), 5)
    await lane.close()
    return partials, errors, final


def test_finish_comes_after_all_audio_fed_before_it_and_backlog_is_batched() -> None:
    recognizer = CountingRecognizer()
    partials, errors, final = asyncio.run(_run(recognizer, [bytes(320)] * 20))
    assert final == Transcript("6400", True)
    assert not errors
    assert sum(recognizer.calls) == 6400
    assert len(recognizer.calls) < 20  # queued chunks went in as batches
    assert [p.text for p in partials] == sorted((p.text for p in partials), key=int)
    assert recognizer.closed


def test_a_failing_recogniser_is_reported_once_and_finish_still_returns() -> None:
    recognizer = CountingRecognizer(fail_after=1000)
    _partials, errors, final = asyncio.run(_run(recognizer, [bytes(640)] * 5))
    assert len(errors) == 1 and "crashed" in str(errors[0])
    assert final.text == ""


class WatchedRecognizer(CountingRecognizer):
    """Notes whether `close` ran while an `accept` was still decoding."""

    def __init__(self) -> None:
        super().__init__()
        self.decoding = threading.Event()
        self.closed_while_decoding = False

    def accept(self, pcm: bytes) -> Transcript | None:
        self.decoding.set()
        try:
            return super().accept(pcm)
        finally:
            self.decoding.clear()

    def close(self) -> None:
        self.closed_while_decoding = self.decoding.is_set()
        super().close()


def test_close_waits_for_the_decoding_in_flight_and_drops_the_rest() -> None:
    recognizer = WatchedRecognizer()
    transcripts: list[Transcript] = []

    async def on_transcript(t: Transcript) -> None:
        transcripts.append(t)

    async def on_error(e: BaseException) -> None:
        raise AssertionError(e)

    async def scenario() -> Transcript:
        lane = RecognitionLane(recognizer, on_transcript, on_error)
        recognizer.gate.clear()  # the first accept blocks in its thread
        lane.feed(bytes(320))
        for _ in range(200):
            if recognizer.decoding.is_set():
                break
            await asyncio.sleep(0.005)
        lane.feed(bytes(320))  # queued behind it
        pending = asyncio.ensure_future(lane.finish())
        closing = asyncio.ensure_future(lane.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # still waiting for the decode
        recognizer.gate.set()
        await asyncio.wait_for(closing, 5)
        return await pending

    final = asyncio.run(scenario())
    assert recognizer.closed and not recognizer.closed_while_decoding
    assert recognizer.calls == [320]  # the queued audio was dropped
    assert final == Transcript("", True, 0.0)
    assert transcripts == []  # nothing reported once closing
