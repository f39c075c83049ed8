"""The call session with fake engines (same protocols as the real ones) and the real policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import cast

from call_fakes import (
    RATE,
    LevelDetector,
    MemoryRecorder,
    ScriptedRecognizers,
    StreamPacer,
    ToneSpeech,
    fixed_clock,
    frames,
    silence,
    speech,
)

from voicebot.call import CallEngines, CallRecorder, CallResult, CallSession, CallSettings
from voicebot.dialogue import DialoguePolicy
from voicebot.events import (
    AudioIn,
    BotSaid,
    CallEnded,
    CallerHeard,
    CallStarted,
    ClearAudio,
    DtmfIn,
    Hangup,
    InboundEvent,
    OutboundEvent,
    PlayAudio,
    PlaybackMark,
    TransferCall,
)
from voicebot.knowledge import KnowledgeBase
from voicebot.matcher import Matcher

STARTED = CallStarted("call-1", "+79161234567", "88001234567", RATE, "alaw")


class Harness:
    """Runs a session; the caller's side is a script of inbound events, paced by the bot."""

    def __init__(
        self,
        kb: KnowledgeBase,
        matcher: Matcher,
        script: Sequence[str],
        *,
        fail_asr_on: str | None = None,
        fail_voice_on: str | None = None,
        settings: CallSettings | None = None,
        seconds_per_char: float = 0.01,
    ) -> None:
        self.sent: list[OutboundEvent] = []
        self.recorder = MemoryRecorder()
        self.pacer = StreamPacer()
        self.speech = ToneSpeech(fail_on=fail_voice_on, seconds_per_char=seconds_per_char)
        self.recognizers = ScriptedRecognizers(list(script), fail_on=fail_asr_on)
        engines = CallEngines(
            matcher=matcher,
            policy=DialoguePolicy(kb),
            recognizers=self.recognizers,
            new_detector=LevelDetector,
            speech=self.speech,
            recorder=cast(CallRecorder, self.recorder),
        )
        self.session = CallSession(
            STARTED,
            engines,
            self._send,
            settings=settings or CallSettings(),
            clock=fixed_clock,
            pacer=self.pacer,
        )
        self.inbound: asyncio.Queue[InboundEvent] = asyncio.Queue()

    async def _send(self, event: OutboundEvent) -> None:
        self.sent.append(event)

    async def events(self) -> AsyncIterator[InboundEvent]:
        while True:
            yield await self.inbound.get()

    async def feed(self, pcm: bytes) -> None:
        """Caller audio in 20 ms frames, letting the session work between frames."""
        for frame in frames(pcm):
            self.pacer.advance(len(frame) / 2 / RATE)
            await self.inbound.put(AudioIn(frame))
            await asyncio.sleep(0.002)

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0.005)

    def said(self, kind: str | None = None) -> list[str]:
        return [e.text for e in self.sent if isinstance(e, BotSaid) and kind in (None, e.kind)]


async def run_call(harness: Harness, caller: AsyncIterator[None]) -> CallResult:
    """Run the caller's script, then keep the line open (silence, like a PBX) until the end."""
    task = asyncio.create_task(harness.session.run(harness.events()))
    async for _ in caller:
        pass
    for _ in range(1500):  # at most 30 s of stream time
        if task.done():
            break
        await harness.feed(silence(0.02))
    return await asyncio.wait_for(task, 10)


def test_question_answered_then_goodbye(small_kb: KnowledgeBase, fake_matcher: Matcher) -> None:
    harness = Harness(small_kb, fake_matcher, ["как узнать баланс", "нет спасибо"])

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.feed(speech(0.8) + silence(1.5))
        await harness.settle()
        await harness.feed(speech(0.6) + silence(1.0))
        await harness.settle()
        await harness.feed(silence(0.5))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert harness.said("greeting") == [small_kb.config.greeting]
    assert harness.said("answer") == [small_kb.entry("balance-check").answer]
    assert harness.said("goodbye") == [small_kb.config.prompts.goodbye]
    assert isinstance(harness.sent[-1], Hangup)
    assert result.outcome == "resolved_by_bot"
    heard = [e.text for e in harness.sent if isinstance(e, CallerHeard)]
    assert heard == ["как узнать баланс", "нет спасибо"]
    # audio went out in 20 ms frames of the call's rate, each phrase followed by its mark
    audio = [e for e in harness.sent if isinstance(e, PlayAudio) and e.pcm]
    assert audio and all(len(e.pcm) == RATE // 50 * 2 for e in audio)
    marks = [e.mark for e in harness.sent if isinstance(e, PlayAudio) and e.mark]
    assert len(marks) == len(harness.said())
    record = harness.recorder.calls["call-1"]
    assert record["outcome"] == "resolved_by_bot" and record["caller"] == "+79161234567"
    caller_turns = [t for t in harness.recorder.turns if t["role"] == "caller"]
    assert caller_turns[0]["entry_id"] == "balance-check"
    assert caller_turns[0]["decision"] == "answer"
    assert harness.recognizers.made[0].closed  # handed back at the end of the call


def test_caller_interrupts_the_bot(small_kb: KnowledgeBase, fake_matcher: Matcher) -> None:
    harness = Harness(small_kb, fake_matcher, ["соедините с оператором"])

    async def caller() -> AsyncIterator[None]:
        # talk over the greeting at once: real words -> barge-in
        await harness.feed(speech(0.9) + silence(1.0))
        await harness.settle()
        await harness.feed(silence(0.3))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    kinds = [type(e).__name__ for e in harness.sent]
    assert "ClearAudio" in kinds
    clear_at = kinds.index("ClearAudio")
    greeting_at = next(
        i for i, e in enumerate(harness.sent) if isinstance(e, BotSaid) and e.kind == "greeting"
    )
    assert greeting_at < clear_at
    assert isinstance(harness.sent[-1], TransferCall)
    assert result.outcome == "escalated"
    greeting_turn = harness.recorder.turns[0]
    assert greeting_turn["role"] == "bot" and greeting_turn["interrupted"] is True
    assert greeting_turn["heard"] is False


def test_dtmf_zero_transfers_with_the_summary(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(small_kb, fake_matcher, [])

    async def caller() -> AsyncIterator[None]:
        await harness.settle()
        await harness.feed(silence(0.2))
        await harness.inbound.put(DtmfIn("0"))
        await harness.settle()
        await harness.feed(silence(0.5))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    transfer = harness.sent[-1]
    assert isinstance(transfer, TransferCall)
    assert transfer.context["reason"] == "caller_request"
    assert "summary" in transfer.context
    assert harness.said("transfer") == [small_kb.config.prompts.transfer]
    assert result.escalation is not None and result.outcome == "escalated"


def test_silence_asks_then_hangs_up(small_kb: KnowledgeBase, fake_matcher: Matcher) -> None:
    settings = CallSettings(silence_timeout_s=1.0)
    harness = Harness(small_kb, fake_matcher, [], settings=settings)

    async def caller() -> AsyncIterator[None]:
        for _ in range(6):
            await harness.feed(silence(0.5))
            await harness.settle()
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert harness.said("prompt") == [small_kb.config.prompts.are_you_there]
    assert harness.said("goodbye") == [small_kb.config.prompts.silence_goodbye]
    assert isinstance(harness.sent[-1], Hangup)
    assert result.outcome == "no_input"


def test_recogniser_failure_is_an_apology_and_a_transfer(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(
        small_kb, fake_matcher, ["как узнать баланс"], fail_asr_on="как узнать баланс"
    )

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.feed(speech(0.6) + silence(1.0))
        await harness.settle()
        await harness.feed(silence(0.3))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert harness.said("apology") == [small_kb.config.prompts.apology]
    assert isinstance(harness.sent[-1], TransferCall)
    assert result.outcome == "escalated" and result.end_reason == "internal_error"


def test_voice_failure_still_transfers_without_dead_air(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(small_kb, fake_matcher, ["как узнать баланс"], fail_voice_on="Баланс")

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.feed(speech(0.6) + silence(1.0))
        await harness.settle()
        await harness.feed(silence(0.3))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert isinstance(harness.sent[-1], TransferCall)
    assert harness.sent[-1].context["reason"] == "internal_error"
    assert result.outcome == "escalated"


def test_caller_hangs_up_mid_answer_and_the_record_is_complete(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(small_kb, fake_matcher, ["как оплатить интернет"])

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.feed(speech(0.6) + silence(0.5))
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    record = harness.recorder.calls["call-1"]
    assert record["outcome"] in {"resolved_by_bot", "caller_hung_up"}
    assert record["outcome"] == result.outcome
    assert record["end_reason"] == "hangup"
    assert any(t["role"] == "caller" for t in harness.recorder.turns)


def test_marks_record_what_the_caller_heard(small_kb: KnowledgeBase, fake_matcher: Matcher) -> None:
    harness = Harness(small_kb, fake_matcher, [])

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        mark = next(e.mark for e in harness.sent if isinstance(e, PlayAudio) and e.mark)
        assert mark is not None
        await harness.inbound.put(PlaybackMark(mark))
        await harness.feed(silence(0.2))
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    greeting = harness.recorder.turns[0]
    assert greeting["kind"] == "greeting" and greeting["heard"] is True
    assert not any(isinstance(e, ClearAudio) for e in harness.sent)


def test_backchannel_over_the_bot_is_not_an_interruption(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(small_kb, fake_matcher, ["угу", "как узнать баланс"])

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.1) + speech(0.3) + silence(1.0))
        await harness.feed(speech(0.8) + silence(1.5))
        await harness.settle()
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    assert not any(isinstance(e, ClearAudio) for e in harness.sent)
    heard = [e.text for e in harness.sent if isinstance(e, CallerHeard)]
    assert heard == ["как узнать баланс"]
    assert harness.said("answer") == [small_kb.entry("balance-check").answer]


def test_long_speech_over_the_bot_interrupts_within_the_barge_in_time(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(small_kb, fake_matcher, [""], seconds_per_char=0.05)
    clear_at: list[float] = []

    async def caller() -> AsyncIterator[None]:
        for frame in frames(silence(0.1) + speech(1.0)):
            await harness.feed(frame)
            if not clear_at and any(isinstance(e, ClearAudio) for e in harness.sent):
                clear_at.append(harness.pacer.now())
        await harness.feed(silence(1.0))
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    assert clear_at, "the bot kept talking over the caller"
    # speech began at 0.1 s; wordless speech interrupts after barge_in_speech_s (+ a frame)
    assert clear_at[0] - 0.1 <= CallSettings().barge_in_speech_s + 0.05
