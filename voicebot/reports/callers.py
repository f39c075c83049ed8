"""Containment per FAQ entry and per topic, and repeat calls from the same number."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, select, union

from voicebot.reports.model import (
    ANONYMOUS_CALLERS,
    PERSON_OUTCOMES,
    UNKNOWN_TOPIC,
    Containment,
    ContainmentRow,
    RepeatCaller,
    RepeatCalls,
)
from voicebot.reports.periods import as_utc, aware, share_of
from voicebot.reports.sql import Db, bind_at, counts_of, during
from voicebot.store.schema import CallRow, TurnRow


def containment_by_entry(
    db: Db, since: datetime, until: datetime, *, window_days: int = 7
) -> Containment:
    """Per FAQ entry the bot answered: calls, contained (with and without a repeat call)."""
    since, until = aware(since), aware(until)
    pairs = (
        select(TurnRow.call_id.label("call_id"), TurnRow.entry_id.label("key"))
        .join(CallRow, CallRow.call_id == TurnRow.call_id)
        .where(*during(CallRow.started_at, since, until), *answers())
        .distinct()
        .subquery()
    )
    rows = _containment(db, pairs, since, until, window_days)
    return Containment(
        "entry",
        window_days,
        tuple(
            ContainmentRow(key, db.entry_topics.get(key, UNKNOWN_TOPIC), *values)
            for key, values in rows
        ),
    )


def containment_by_topic(
    db: Db, since: datetime, until: datetime, *, window_days: int = 7
) -> Containment:
    """Per topic (see the module): calls, contained (with and without a repeat call)."""
    since, until = aware(since), aware(until)
    pairs = topic_pairs(db, since, until)
    rows = _containment(db, pairs, since, until, window_days)
    return Containment(
        "topic", window_days, tuple(ContainmentRow(k, k, *values) for k, values in rows)
    )


def _containment(
    db: Db, pairs: Any, since: datetime, until: datetime, window_days: int
) -> list[tuple[str, tuple[Any, ...]]]:
    calls = next_calls(db, since, until, window_days)
    resolved = calls.c.outcome == "resolved_by_bot"
    query = (
        select(
            pairs.c.key,
            func.count(),
            func.sum(case((resolved, 1), else_=0)),
            func.sum(case((and_(resolved, calls.c.repeated == 0), 1), else_=0)),
            func.sum(case((calls.c.outcome.in_(PERSON_OUTCOMES), 1), else_=0)),
            func.sum(calls.c.repeated),
        )
        .join(calls, calls.c.call_id == pairs.c.call_id)
        .where(calls.c.started_at < bind_at(until))
        .group_by(pairs.c.key)
    )
    out = []
    with db.engine.connect() as conn:
        for key, n, contained, clean, person, repeated in conn.execute(query):
            n, contained, clean = int(n), int(contained or 0), int(clean or 0)
            out.append(
                (
                    str(key),
                    (
                        n,
                        contained,
                        share_of(contained, n),
                        clean,
                        share_of(clean, n),
                        int(person or 0),
                        int(repeated or 0),
                    ),
                )
            )
    out.sort(key=lambda kv: (-kv[1][0], kv[0]))
    return out


def repeat_calls(
    db: Db, since: datetime, until: datetime, *, window_days: int = 7, limit: int | None = 100
) -> RepeatCalls:
    """Calls followed by another from the same number within `window_days`; the callers."""
    since, until = aware(since), aware(until)
    calls = next_calls(db, since, until, window_days)
    in_period = [calls.c.started_at < bind_at(until), calls.c.known == 1]
    pairs = topic_pairs(db, since, until)
    repeats = func.sum(calls.c.repeated)
    callers_q = (
        select(
            calls.c.caller,
            func.count(),
            repeats,
            func.min(calls.c.started_at),
            func.max(calls.c.started_at),
        )
        .where(*in_period)
        .group_by(calls.c.caller)
        .having(repeats > 0)
        .order_by(repeats.desc(), calls.c.caller)
    )
    if limit is not None:
        callers_q = callers_q.limit(limit)
    with db.engine.connect() as conn:
        n, repeated = conn.execute(
            select(func.count(), func.coalesce(func.sum(calls.c.repeated), 0)).where(*in_period)
        ).one()
        by_topic = counts_of(
            conn,
            # The same join shape as containment (summing the flag, not filtering on it):
            # SQLite then indexes the derived table instead of rescanning it per row.
            select(pairs.c.key, func.sum(calls.c.repeated))
            .join(calls, calls.c.call_id == pairs.c.call_id)
            .where(calls.c.started_at < bind_at(until))  # `repeated` is 0 for unknown callers
            .group_by(pairs.c.key),
        )
        callers = conn.execute(callers_q).all()
        topics: dict[str, set[str]] = defaultdict(set)
        chosen = [c[0] for c in callers]
        for start in range(0, len(chosen), 500):
            batch = chosen[start : start + 500]
            for caller, topic in conn.execute(
                select(CallRow.caller, pairs.c.key)
                .join(pairs, pairs.c.call_id == CallRow.call_id)
                .where(CallRow.caller.in_(batch))
            ):
                topics[caller].add(str(topic))
    rows = tuple(
        RepeatCaller(
            caller=c,
            calls=int(k),
            repeated=int(r),
            first_at=as_utc(first),
            last_at=as_utc(last),
            topics=tuple(sorted(topics.get(c, ()))),
        )
        for c, k, r, first, last in callers
    )
    ordered = dict(
        sorted(((k, v) for k, v in by_topic.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    )
    return RepeatCalls(
        window_days, int(n), int(repeated), share_of(int(repeated), int(n)), ordered, rows
    )


def next_calls(db: Db, since: datetime, until: datetime, window_days: int) -> Any:
    """Calls from `since` to `until` + window, each with `repeated` (0/1) and `known`."""
    if window_days < 0:
        raise ValueError("window_days must not be negative")
    known = func.lower(CallRow.caller).not_in(ANONYMOUS_CALLERS)
    next_at = (
        func.lead(CallRow.started_at)
        .over(partition_by=CallRow.caller, order_by=(CallRow.started_at, CallRow.call_id))
        .label("next_at")
    )
    inner = (
        select(
            CallRow.call_id,
            CallRow.caller,
            CallRow.started_at,
            CallRow.outcome,
            case((known, 1), else_=0).label("known"),
            next_at,
        )
        .where(*during(CallRow.started_at, since, until + timedelta(days=window_days)))
        .subquery()
    )
    gap = db.seconds(inner.c.next_at, inner.c.started_at)
    repeated = case(
        (
            and_(inner.c.known == 1, inner.c.next_at.is_not(None), gap <= window_days * 86400.0),
            1,
        ),
        else_=0,
    )
    return select(
        inner.c.call_id,
        inner.c.caller,
        inner.c.started_at,
        inner.c.outcome,
        inner.c.known,
        repeated.label("repeated"),
    ).subquery()


def topic_pairs(db: Db, since: datetime, until: datetime) -> Any:
    """Distinct (call_id, key=topic) of the period's calls (see the module)."""
    if db.entry_topics:
        topic: Any = case(db.entry_topics, value=TurnRow.entry_id, else_=UNKNOWN_TOPIC)
    else:
        topic = literal(UNKNOWN_TOPIC)
    period = during(CallRow.started_at, since, until)
    answered = (
        select(TurnRow.call_id.label("call_id"), topic.label("key"))
        .join(CallRow, CallRow.call_id == TurnRow.call_id)
        .where(*period, *answers())
    )
    escalated = select(
        CallRow.call_id.label("call_id"), CallRow.escalation_topic.label("key")
    ).where(*period, CallRow.escalation_topic.is_not(None))
    return union(answered, escalated).subquery()


def answers() -> list[Any]:
    """The conditions of a bot turn that answered with a FAQ entry."""
    return [TurnRow.role == "bot", TurnRow.kind == "answer", TurnRow.entry_id.is_not(None)]
