"""The call session with fake engines (same protocols as the real ones) and the real policy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace

from call_fakes import (
    RATE,
    ScriptedRecognizer,
    ScriptedRecognizers,
    frames,
    silence,
    speech,
)
from call_harness import Harness, run_call

from voicebot.call import CallSettings
from voicebot.events import (
    BotSaid,
    CallEnded,
    CallerHeard,
    ClearAudio,
    DtmfIn,
    Hangup,
    OutboundEvent,
    PlayAudio,
    PlaybackMark,
    Transcript,
    TransferCall,
)
from voicebot.knowledge import KnowledgeBase
from voicebot.matcher import Matcher
from voicebot.vad import EndpointSettings


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


# --- speculative finalisation at the early pause -------------------------------------------------


@dataclass
class GatedRecognizer(ScriptedRecognizer):
    """A scripted recogniser whose `finish` notes the caller's silence and may be held back."""

    silence_at_finish: list[float] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    silence_now: Callable[[], float] = lambda: 0.0

    def finish(self) -> Transcript:
        self.silence_at_finish.append(self.silence_now())
        self.entered.set()
        self.gate.wait(10)
        return super().finish()


def gated(harness: Harness, *, open_gate: bool = False) -> GatedRecognizer:
    """Give the harness' session one gated recogniser (the gate starts open if asked)."""
    endpointer = harness.session.endpointer
    recognizer = GatedRecognizer(
        list(harness.recognizers.script), silence_now=lambda: endpointer.trailing_silence_s
    )
    if open_gate:
        recognizer.gate.set()

    class Factory(ScriptedRecognizers):
        def new_recognizer(self, input_rate: int, phrases: Sequence[str] = ()) -> GatedRecognizer:
            return recognizer

    harness.session.engines = replace(harness.session.engines, recognizers=Factory([]))
    return recognizer


def heard_with_silence(harness: Harness) -> list[tuple[str, float]]:
    """Record, for every CallerHeard sent, the caller's silence at that moment."""
    heard: list[tuple[str, float]] = []
    session, send = harness.session, harness.session._send

    async def watching(event: OutboundEvent) -> None:
        if isinstance(event, CallerHeard):
            heard.append((event.text, session.endpointer.trailing_silence_s))
        await send(event)

    session._send = watching
    return heard


async def until(condition: Callable[[], bool]) -> bool:
    """Let the session work until `condition` holds (bounded)."""
    for _ in range(400):
        if condition():
            return True
        await asyncio.sleep(0.005)
    return condition()


def test_early_pause_finalises_ahead_and_the_answer_comes_at_the_pause(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(small_kb, fake_matcher, ["как узнать баланс"])
    recognizer = gated(harness)
    heard = heard_with_silence(harness)
    pause = CallSettings().endpoint.pause_s
    finishing_early: list[bool] = []

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.settle()
        # 0.16 s of silence: past the early pause (0.1 s), short of the pause
        await harness.feed(speech(0.8) + silence(0.16))
        finishing_early.append(await until(recognizer.entered.is_set))
        assert not heard  # nothing is acted on before the pause
        recognizer.gate.set()
        await harness.feed(silence(1.5))
        await harness.settle()
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    assert finishing_early == [True]
    assert recognizer.silence_at_finish[0] < pause
    assert [text for text, _ in heard] == ["как узнать баланс"]
    assert pause - 1e-6 <= heard[0][1] <= pause + 0.03  # committed at the pause, not earlier
    assert harness.said("answer") == [small_kb.entry("balance-check").answer]


def test_caller_going_on_while_the_early_finalisation_runs_keeps_the_words_in_order(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    harness = Harness(small_kb, fake_matcher, ["как узнать", "баланс"])
    recognizer = gated(harness)
    heard = heard_with_silence(harness)

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.settle()
        await harness.feed(speech(0.6) + silence(0.16))
        assert await until(recognizer.entered.is_set)
        await harness.feed(speech(0.6))  # goes on before the first part is finalised
        await harness.settle()
        recognizer.gate.set()
        await harness.feed(silence(1.5))
        await harness.settle()
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    assert [text for text, _ in heard] == ["как узнать баланс"]
    assert harness.said("answer") == [small_kb.entry("balance-check").answer]


def test_caller_going_on_after_the_early_match_discards_it(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    # "как узнать баланс" alone would be answered: going on must not commit it
    harness = Harness(small_kb, fake_matcher, ["как узнать баланс", "на тарифе"])
    recognizer = gated(harness, open_gate=True)
    heard = heard_with_silence(harness)

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.settle()
        await harness.feed(speech(0.8) + silence(0.16))
        assert await until(recognizer.entered.is_set)
        await harness.settle()  # finalised and matched by now
        await harness.feed(speech(0.6) + silence(1.5))
        await harness.settle()
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    assert [text for text, _ in heard] == ["как узнать баланс на тарифе"]
    assert len(recognizer.silence_at_finish) >= 2


def test_without_an_early_pause_the_recogniser_is_finalised_at_the_pause(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    endpoint = EndpointSettings(min_speech_s=0.12, early_pause_s=None)
    harness = Harness(
        small_kb, fake_matcher, ["как узнать баланс"], settings=CallSettings(endpoint=endpoint)
    )
    recognizer = gated(harness, open_gate=True)
    heard = heard_with_silence(harness)

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.settle()
        await harness.feed(speech(0.8) + silence(0.16))
        await harness.settle()
        assert not recognizer.entered.is_set()
        await harness.feed(silence(1.5))
        await harness.settle()
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    assert recognizer.silence_at_finish[0] >= endpoint.pause_s - 1e-6
    assert [text for text, _ in heard] == ["как узнать баланс"]
    assert harness.said("answer") == [small_kb.entry("balance-check").answer]


def test_answer_timing_shows_which_silence_the_reply_waited_for(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    # a clear question is answered at the pause; mumbling waits for the end of speech
    harness = Harness(small_kb, fake_matcher, ["как узнать баланс", "бла бла бла"])
    observed: list[dict[str, float]] = []
    harness.session.observe = lambda name, values: (
        observed.append(values) if name == "answer" else None
    )
    endpoint = CallSettings().endpoint

    async def caller() -> AsyncIterator[None]:
        await harness.feed(silence(0.8))
        await harness.settle()
        await harness.feed(speech(0.8) + silence(3.0))
        await harness.settle()
        await harness.feed(speech(0.6) + silence(3.0))
        await harness.settle()
        await harness.inbound.put(CallEnded("hangup"))
        yield None

    asyncio.run(run_call(harness, caller()))
    assert len(observed) == 2
    clear, unclear = observed
    assert endpoint.pause_s - 1e-3 <= clear["endpoint_wait"] <= endpoint.pause_s + 0.03
    assert (
        endpoint.end_silence_s - 1e-3 <= unclear["endpoint_wait"] <= endpoint.end_silence_s + 0.03
    )
    assert unclear["asr_final"] == unclear["matching"] == 0.0  # done during the wait
