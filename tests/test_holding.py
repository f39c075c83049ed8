"""The holding line: the pure policy, and a call session that waits in a queue (fake queue,
fake engines; the store-backed queue has its own tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from call_fakes import FixedHours, MemoryQueue, fixed_clock, silence, speech
from call_harness import Harness, run_call

from voicebot.dialogue import DialoguePolicy
from voicebot.events import DtmfIn, Hangup, TransferCall
from voicebot.hold_line import HandoffDesk, describe_plainly
from voicebot.holding import (
    Announce,
    CallbackMade,
    CallerPressed,
    CallerReplied,
    Closed,
    EndCall,
    HoldPolicy,
    HoldSettings,
    HoldState,
    JoinedQueue,
    MakeCallback,
    OperatorTook,
    QueueTick,
    TransferTo,
    says_yes,
    wants_callback,
)
from voicebot.knowledge import KnowledgeBase, Prompts
from voicebot.matcher import Matcher
from voicebot.queue import WaitInputs

PROMPTS = Prompts()
WAIT = "Ожидание около двух минут."


def _policy(**settings: float) -> HoldPolicy:
    return HoldPolicy(PROMPTS, HoldSettings(**settings))


# --- the pure policy ----------------------------------------------------------------------------


def test_joining_announces_the_wait_and_the_callback_option() -> None:
    state, actions = _policy().decide(HoldState(), JoinedQueue(3.0, WAIT))
    assert actions == [Announce(PROMPTS.queue_joined.format(wait=WAIT))]
    text = PROMPTS.queue_joined.format(wait=WAIT)
    assert "Ожидание около двух минут." in text and "перезвоните" in text
    assert state.phase == "waiting" and state.announced_s == 3.0


def test_the_wait_is_announced_again_only_after_the_interval() -> None:
    policy = _policy(announce_every_s=30.0)
    state, _ = policy.decide(HoldState(), JoinedQueue(0.0, WAIT))
    state, quiet = policy.decide(state, QueueTick(29.0, WAIT))
    assert quiet == []
    state, again = policy.decide(state, QueueTick(30.0, "Ожидание около минуты."))
    assert again == [Announce(PROMPTS.queue_still_waiting.format(wait="Ожидание около минуты."))]
    _, quiet = policy.decide(state, QueueTick(45.0, WAIT))
    assert quiet == []


def test_an_operator_taking_the_call_transfers_it() -> None:
    policy = _policy()
    state, _ = policy.decide(HoldState(), JoinedQueue(0.0, WAIT))
    state, actions = policy.decide(state, OperatorTook("101"))
    assert actions == [Announce(PROMPTS.operator_found), TransferTo("101")]
    assert state.phase == "ended"
    assert policy.decide(state, OperatorTook("102")) == (state, [])


@pytest.mark.parametrize(
    "event",
    [CallerPressed(5.0, "1"), CallerReplied(5.0, "а можно вы мне лучше перезвоните")],
    ids=["key 1", "words"],
)
def test_key_one_or_asking_makes_a_callback(event: CallerPressed | CallerReplied) -> None:
    policy = _policy()
    state, _ = policy.decide(HoldState(), JoinedQueue(0.0, WAIT))
    state, actions = policy.decide(state, event)
    assert actions == [MakeCallback()]
    state, actions = policy.decide(state, CallbackMade(True))
    assert actions == [Announce(PROMPTS.callback_confirmed), EndCall("callback_requested")]
    assert state.phase == "ended"


def test_a_callback_asked_for_before_the_wait_is_announced_is_kept() -> None:
    policy = _policy()
    state, actions = policy.decide(HoldState(), CallerPressed(0.5, "1"))
    assert actions == [MakeCallback()]
    state, actions = policy.decide(state, JoinedQueue(1.0, WAIT))  # the queue answered late
    assert actions == [] and state.asked_callback
    _, actions = policy.decide(state, CallbackMade(True))
    assert actions == [Announce(PROMPTS.callback_confirmed), EndCall("callback_requested")]


def test_other_words_and_keys_while_waiting_change_nothing() -> None:
    policy = _policy()
    state, _ = policy.decide(HoldState(), JoinedQueue(0.0, WAIT))
    for event in (CallerPressed(1.0, "5"), CallerReplied(2.0, "ну сколько можно ждать")):
        state, actions = policy.decide(state, event)
        assert actions == []
    assert state.phase == "waiting"


def test_a_callback_too_late_leaves_the_call_waiting_for_the_transfer() -> None:
    policy = _policy()
    state, _ = policy.decide(HoldState(), JoinedQueue(0.0, WAIT))
    state, _ = policy.decide(state, CallerPressed(1.0, "1"))
    state, actions = policy.decide(state, CallbackMade(False))
    assert actions == [] and state.phase == "waiting" and not state.asked_callback
    _, actions = policy.decide(state, OperatorTook("101"))
    assert TransferTo("101") in actions


def test_after_hours_offer_yes_makes_a_callback_no_or_silence_says_goodbye() -> None:
    policy = _policy(offer_answer_s=10.0)
    closed = Closed(0.0, "Мы работаем с девяти.")
    state, actions = policy.decide(HoldState(), closed)
    assert actions == [Announce(PROMPTS.closed_offer.format(hours="Мы работаем с девяти."))]

    _, yes = policy.decide(state, CallerReplied(2.0, "да пожалуйста"))
    assert yes == [MakeCallback()]
    _, no = policy.decide(state, CallerReplied(2.0, "нет не надо"))
    assert no == [Announce(PROMPTS.goodbye), EndCall("after_hours")]
    _, early = policy.decide(state, QueueTick(9.0, ""))
    assert early == []
    _, late = policy.decide(state, QueueTick(10.0, ""))
    assert late == [Announce(PROMPTS.goodbye), EndCall("after_hours")]


@pytest.mark.parametrize(
    ("text", "callback", "yes"),
    [
        ("перезвоните мне пожалуйста", True, True),
        ("можно обратный звонок", True, True),
        ("не надо перезванивать я подожду", False, False),
        ("да", False, True),
        ("давайте", False, True),
        ("нет", False, False),
        ("да нет наверное", False, False),
        ("сколько ещё ждать", False, False),
    ],
)
def test_callback_and_yes_words(text: str, callback: bool, yes: bool) -> None:
    assert wants_callback(text) is callback
    assert says_yes(text) is yes


# --- a call session holding in a queue ---------------------------------------------------------


def _wait_phrase(inputs: WaitInputs) -> str:
    return f"Ожидание около {inputs.ahead + 1} минут."


def _desk(queue: MemoryQueue, hours: FixedHours | None = None, **settings: float) -> HandoffDesk:
    return HandoffDesk(
        queue=queue,
        hours=hours or FixedHours(),
        describe=describe_plainly,
        wait_phrase=_wait_phrase,
        settings=HoldSettings(**settings),
    )


async def _press_zero(harness: Harness) -> None:
    await harness.settle()
    await harness.feed(silence(0.2))
    await harness.inbound.put(DtmfIn("0"))
    await harness.settle()


def test_the_caller_waits_hears_the_wait_and_is_transferred_once_taken(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    queue = MemoryQueue(ahead=1)
    harness = Harness(small_kb, fake_matcher, [], handoff=_desk(queue, announce_every_s=3.0))

    async def caller() -> AsyncIterator[None]:
        await _press_zero(harness)
        await harness.feed(silence(4.0))  # one re-announcement
        assert queue.entries and queue.entries[1]["state"] == "waiting"
        queue.take(1, "101")
        await harness.feed(silence(3.0))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    said = harness.said()
    assert said.count(PROMPTS.queue_joined.format(wait="Ожидание около 2 минут.")) == 1
    assert PROMPTS.queue_still_waiting.format(wait="Ожидание около 2 минут.") in said
    assert said[-1] == PROMPTS.operator_found
    transfer = harness.sent[-1]
    assert isinstance(transfer, TransferCall) and transfer.target == "101"
    assert transfer.context["queue_entry"] == "1" and transfer.context["reason"] == "caller_request"
    entry = queue.entries[1]
    assert entry["call_id"] == "call-1" and entry["caller"] == "+79161234567"
    assert entry["reason"] == "caller_request"
    assert result.outcome == "escalated"
    assert harness.recorder.calls["call-1"]["outcome"] == "escalated"


def test_key_one_while_waiting_leaves_the_queue_for_a_callback(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    queue = MemoryQueue()
    harness = Harness(small_kb, fake_matcher, [], handoff=_desk(queue))

    async def caller() -> AsyncIterator[None]:
        await _press_zero(harness)
        await harness.feed(silence(3.0))
        await harness.inbound.put(DtmfIn("1"))
        await harness.settle()
        await harness.feed(silence(2.0))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert queue.entries[1]["state"] == "callback"
    assert queue.callbacks and queue.callbacks[0]["caller"] == "+79161234567"
    deadline = queue.callbacks[0]["deadline"]
    assert deadline == fixed_clock() + timedelta(hours=2)
    assert harness.said()[-1] == PROMPTS.callback_confirmed
    assert isinstance(harness.sent[-1], Hangup)
    assert result.outcome == "callback_requested"


def test_asking_for_a_callback_in_words_while_waiting(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    queue = MemoryQueue()
    harness = Harness(small_kb, fake_matcher, ["перезвоните мне попозже"], handoff=_desk(queue))

    async def caller() -> AsyncIterator[None]:
        await _press_zero(harness)
        await harness.feed(silence(3.0))
        await harness.feed(speech(0.6) + silence(1.5))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert result.outcome == "callback_requested"
    assert queue.entries[1]["state"] == "callback"
    caller_turns = [t["text"] for t in harness.recorder.turns if t["role"] == "caller"]
    assert caller_turns == ["[DTMF 0]", "перезвоните мне попозже"]


def test_hanging_up_while_waiting_abandons_the_entry(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    queue = MemoryQueue()
    harness = Harness(small_kb, fake_matcher, [], handoff=_desk(queue))

    async def caller() -> AsyncIterator[None]:
        await _press_zero(harness)
        await harness.feed(silence(3.0))
        harness.session.end_now("hangup")
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert queue.entries[1]["state"] == "abandoned"
    assert result.outcome == "abandoned"


def test_after_hours_the_bot_tells_the_hours_and_takes_a_callback(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    queue = MemoryQueue()
    hours = FixedHours(open_now=False)
    policy = DialoguePolicy(small_kb, operators_working=lambda _topic: False)
    harness = Harness(small_kb, fake_matcher, ["да"], handoff=_desk(queue, hours), policy=policy)

    async def caller() -> AsyncIterator[None]:
        await _press_zero(harness)
        await harness.feed(silence(4.0))
        await harness.feed(speech(0.3) + silence(1.5))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    said = harness.said()
    assert PROMPTS.transfer not in said and PROMPTS.closed_now in said
    assert PROMPTS.closed_offer.format(hours=hours.hours_phrase()) in said
    assert not queue.entries, "nobody to queue for outside the hours"
    assert queue.callbacks[0]["deadline"] == hours.reopens + timedelta(hours=2)
    assert result.outcome == "callback_requested"


def test_after_hours_silence_ends_politely(small_kb: KnowledgeBase, fake_matcher: Matcher) -> None:
    queue = MemoryQueue()
    hours = FixedHours(open_now=False)
    harness = Harness(small_kb, fake_matcher, [], handoff=_desk(queue, hours, offer_answer_s=3.0))

    async def caller() -> AsyncIterator[None]:
        await _press_zero(harness)
        await harness.feed(silence(8.0))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    assert harness.said()[-1] == PROMPTS.goodbye
    assert isinstance(harness.sent[-1], Hangup)
    assert result.outcome == "after_hours" and not queue.callbacks


def test_a_broken_queue_still_transfers_at_once(
    small_kb: KnowledgeBase, fake_matcher: Matcher
) -> None:
    queue = MemoryQueue(fail_enqueue=True)
    harness = Harness(small_kb, fake_matcher, [], handoff=_desk(queue))

    async def caller() -> AsyncIterator[None]:
        await _press_zero(harness)
        await harness.feed(silence(1.0))
        yield None

    result = asyncio.run(run_call(harness, caller()))
    transfer = harness.sent[-1]
    assert isinstance(transfer, TransferCall) and transfer.context["reason"] == "caller_request"
    assert result.outcome == "escalated"
