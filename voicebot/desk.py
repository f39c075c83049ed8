"""Assembling the operator desk of a bridge process: the queue store, the working hours of the
knowledge base, the operator's card (voicebot.handoff) and the wait phrase (voicebot.wait_estimate)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from voicebot.entities import MaskMode
from voicebot.events import CallStarted, Escalation
from voicebot.handoff import build_card, past_calls
from voicebot.hold_line import CallCard, HandoffDesk
from voicebot.holding import HoldSettings
from voicebot.knowledge import KnowledgeBase
from voicebot.queue import CallQueue, WaitInputs
from voicebot.schedule import Schedule, parse_schedule
from voicebot.store.calls import CallRecord
from voicebot.wait_estimate import estimate_wait, wait_phrase

REPEAT_WINDOW_DAYS = 7

History = Callable[[str, datetime], Sequence[CallRecord]]  # (caller, since) -> their calls


def working_hours(kb: KnowledgeBase) -> Schedule:
    """The knowledge base's schedule (problems are reported by `voicebot kb check`)."""
    schedule, _problems = parse_schedule(kb.config.working_hours, kb.config.holidays)
    return schedule


def spoken_wait(inputs: WaitInputs) -> str:
    """The estimated wait as the caller hears it («Ожидание около двух минут.»)."""
    return wait_phrase(estimate_wait(inputs).seconds)


def build_desk(
    kb: KnowledgeBase,
    queue: CallQueue,
    history: History,
    clock: Callable[[], datetime],
    *,
    vip_numbers: frozenset[str] = frozenset(),
    mask_pii: MaskMode = "partial",
    settings: HoldSettings | None = None,
    staffed: Callable[[], bool] = lambda: True,
    operator_results: Callable[[Sequence[str]], Mapping[str, str]] = lambda _ids: {},
) -> HandoffDesk:
    """The desk every call of this process escalates through."""
    urgent = frozenset(name for name, topic in kb.config.topics.items() if topic.urgent)

    def describe(escalation: Escalation, started: CallStarted, answered: Sequence[str]) -> CallCard:
        now = clock()
        since = now - timedelta(days=REPEAT_WINDOW_DAYS)
        calls = history(started.caller, since) if started.caller else ()
        topic = escalation.topic if escalation.topic in kb.config.topics else None
        card = build_card(
            kb,
            reason=escalation.reason,
            topic=topic,
            turns=escalation.turns,
            answered=answered,
            caller=started.caller,
            history=past_calls(
                calls,
                exclude_call_id=started.call_id,
                operator_results=operator_results([c.call_id for c in calls]),
            ),
            now=now,
            vip_numbers=vip_numbers,
            mask_pii=mask_pii,
            repeat_window_days=REPEAT_WINDOW_DAYS,
            urgent_topics=urgent,
        )
        priority = card["priority"]
        assert isinstance(priority, dict)
        return CallCard(
            card,
            str(card["summary"]),
            int(priority["value"]),
            tuple(str(r) for r in priority["reasons"]),
        )

    return HandoffDesk(
        queue=queue,
        hours=working_hours(kb),
        describe=describe,
        wait_phrase=spoken_wait,
        settings=settings or HoldSettings(),
        staffed=staffed,
    )
