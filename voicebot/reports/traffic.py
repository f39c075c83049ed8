"""Calls per hour and day, outcomes, answer and wait times, talk durations, operator load, and
the per-hour demand staffing needs."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import datetime
from typing import Final

from sqlalchemy import and_, case, exists, func, select

from voicebot.reports.model import (
    EMPTY_STATS,
    IN_PROGRESS,
    WAIT_BINS,
    AnswerTimes,
    Demand,
    DemandRow,
    OperatorLoad,
    OperatorLoadRow,
    OutcomeSplit,
    TalkDurations,
    Unit,
    Volume,
    VolumeRow,
    WaitByHour,
    WaitHourRow,
)
from voicebot.reports.periods import (
    aware,
    bin_label,
    hours_observed,
    local_buckets,
    share_of,
    zoned_period,
)
from voicebot.reports.sql import Db, bind_at, counts_of, during
from voicebot.store.calls import OUTCOMES
from voicebot.store.schema import CallbackRow, CallRow, OperatorRow, QueueEntryRow

_TAKEN: Final = ("taken", "closed")
_ENTRY_STATES: Final = ("waiting", "taken", "closed", "abandoned", "callback")
_CALLBACK_STATES: Final = ("open", "taken", "done", "failed", "cancelled")


def volume(db: Db, since: datetime, until: datetime, tz: str, unit: Unit) -> Volume:
    """Calls started per local hour or day, by outcome."""
    since, until, zone = zoned_period(since, until, tz)
    key = db.local_key(CallRow.started_at, zone, since, until, unit).label("k")
    query = (
        select(key, CallRow.outcome, func.count())
        .where(*during(CallRow.started_at, since, until))
        .group_by(key, CallRow.outcome)
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    with db.engine.connect() as conn:
        for bucket, outcome, n in conn.execute(query):
            counts[bucket][outcome or IN_PROGRESS] = int(n)
    buckets = local_buckets(since, until, zone, unit)
    buckets += sorted(set(counts) - set(buckets))
    rows = []
    for bucket in buckets:
        found = counts.get(bucket, {})
        split = {o: found.get(o, 0) for o in (*OUTCOMES, IN_PROGRESS)}
        rows.append(VolumeRow(bucket, sum(split.values()), split))
    return Volume(unit, tz, tuple(rows))


def outcomes(db: Db, since: datetime, until: datetime) -> OutcomeSplit:
    """The outcome split of the period's calls, queue entries and callbacks."""
    since, until = aware(since), aware(until)
    period = during(CallRow.started_at, since, until)
    taken_entry = exists().where(
        QueueEntryRow.call_id == CallRow.call_id, QueueEntryRow.state.in_(_TAKEN)
    )
    with db.engine.connect() as conn:
        by = {
            o or IN_PROGRESS: int(n)
            for o, n in conn.execute(
                select(CallRow.outcome, func.count()).where(*period).group_by(CallRow.outcome)
            )
        }
        answered = conn.scalar(
            select(func.count()).where(*period, CallRow.answered_at.is_not(None))
        )
        escalated_answered = conn.scalar(
            select(func.count()).where(*period, CallRow.outcome == "escalated", taken_entry)
        )
        queue = counts_of(
            conn,
            select(QueueEntryRow.state, func.count())
            .where(*during(QueueEntryRow.enqueued_at, since, until))
            .group_by(QueueEntryRow.state),
        )
        callbacks = counts_of(
            conn,
            select(CallbackRow.state, func.count())
            .where(*during(CallbackRow.requested_at, since, until))
            .group_by(CallbackRow.state),
        )
        overdue = conn.scalar(
            select(func.count()).where(
                *during(CallbackRow.requested_at, since, until),
                CallbackRow.state.in_(("open", "taken")),
                CallbackRow.deadline < bind_at(until),
            )
        )
    split = {o: by.get(o, 0) for o in (*OUTCOMES, IN_PROGRESS)}
    calls = sum(split.values())
    ended = calls - split[IN_PROGRESS]
    return OutcomeSplit(
        calls=calls,
        by_outcome=split,
        answered_by_bot=int(answered or 0),
        contained_share=share_of(split["resolved_by_bot"], ended),
        escalated_answered=int(escalated_answered or 0),
        escalated_direct=split["escalated"] - int(escalated_answered or 0),
        queue_by_state={s: int(queue.get(s, 0)) for s in _ENTRY_STATES},
        callbacks_by_state={s: int(callbacks.get(s, 0)) for s in _CALLBACK_STATES},
        callbacks_overdue=int(overdue or 0),
    )


def answer_times(
    db: Db, since: datetime, until: datetime, *, target_s: float = 20.0
) -> AnswerTimes:
    """Time to answer by the bot and by an operator (p50/p95), and the service level."""
    since, until = aware(since), aware(until)
    bot_s = db.seconds(CallRow.answered_at, CallRow.started_at)
    wait_s = db.seconds(QueueEntryRow.taken_at, QueueEntryRow.enqueued_at)
    ended_s = db.seconds(
        func.coalesce(QueueEntryRow.taken_at, QueueEntryRow.closed_at),
        QueueEntryRow.enqueued_at,
    )
    entries = during(QueueEntryRow.enqueued_at, since, until)
    with db.engine.connect() as conn:
        bot = db.stats(conn, bot_s, during(CallRow.started_at, since, until))
        operator = db.stats(conn, wait_s, entries)
        ended, within = conn.execute(
            select(
                func.count(ended_s),
                func.coalesce(func.sum(case((wait_s <= target_s, 1), else_=0)), 0),
            ).where(*entries, QueueEntryRow.state != "waiting")
        ).one()
    return AnswerTimes(
        bot, operator, target_s, int(ended), int(within), share_of(int(within), int(ended))
    )


def wait_by_hour(
    db: Db, since: datetime, until: datetime, tz: str, *, target_s: float = 20.0
) -> WaitByHour:
    """Queue waits per local hour of the day: volumes, p50/p95, service level, histogram."""
    since, until, zone = zoned_period(since, until, tz)
    hour = db.local_hour(QueueEntryRow.enqueued_at, zone, since, until).label("h")
    entries = during(QueueEntryRow.enqueued_at, since, until)
    wait_s = db.seconds(QueueEntryRow.taken_at, QueueEntryRow.enqueued_at)
    gave_up_s = db.seconds(QueueEntryRow.closed_at, QueueEntryRow.enqueued_at)
    ended_s = db.seconds(
        func.coalesce(QueueEntryRow.taken_at, QueueEntryRow.closed_at),
        QueueEntryRow.enqueued_at,
    )
    bounds = (0.0, *WAIT_BINS, math.inf)
    labels = [bin_label(lo, hi) for lo, hi in itertools.pairwise(bounds)]
    bins = [
        func.sum(case((and_(ended_s >= lo, ended_s < hi), 1), else_=0))
        if math.isfinite(hi)
        else func.sum(case((ended_s >= lo, 1), else_=0))
        for lo, hi in itertools.pairwise(bounds)
    ]
    states = [
        func.sum(case((QueueEntryRow.state == s, 1), else_=0))
        for s in ("abandoned", "callback", "waiting")
    ]
    query = (
        select(
            hour,
            func.count(),
            func.count(QueueEntryRow.taken_at),
            *states,
            func.sum(case((wait_s <= target_s, 1), else_=0)),
            *bins,
        )
        .where(*entries)
        .group_by(hour)
    )
    with db.engine.connect() as conn:
        counts = {int(r[0]): [int(v or 0) for v in r[1:]] for r in conn.execute(query)}
        taken = db.stats_by(conn, hour, wait_s, entries)
        gave_up = db.stats_by(conn, hour, gave_up_s, [*entries, QueueEntryRow.state == "abandoned"])
    observed = hours_observed(since, until, zone)
    rows = []
    for h in range(24):
        c = counts.get(h, [0] * (6 + len(bins)))
        offered, n_taken, abandoned, callback, waiting, within = c[:6]
        histogram = dict(zip(labels, c[6:], strict=True))
        rows.append(
            WaitHourRow(
                hour=h,
                hours_observed=observed[h],
                offered=offered,
                taken=n_taken,
                abandoned=abandoned,
                callback=callback,
                waiting=waiting,
                taken_wait=taken.get(h, EMPTY_STATS),
                abandoned_wait=gave_up.get(h, EMPTY_STATS),
                service_level=share_of(within, offered - waiting),
                histogram=histogram,
            )
        )
    return WaitByHour(tz, target_s, tuple(rows))


def talk_durations(db: Db, since: datetime, until: datetime) -> TalkDurations:
    """Call durations (overall, per outcome) and operator handle times (taken in period)."""
    since, until = aware(since), aware(until)
    talk_s = db.seconds(CallRow.ended_at, CallRow.started_at)
    handle_s = db.seconds(QueueEntryRow.closed_at, QueueEntryRow.taken_at)
    calls = during(CallRow.started_at, since, until)
    with db.engine.connect() as conn:
        overall = db.stats(conn, talk_s, calls)
        by = db.stats_by(conn, CallRow.outcome, talk_s, calls)
        operator = db.stats(
            conn,
            handle_s,
            [*during(QueueEntryRow.taken_at, since, until), QueueEntryRow.state == "closed"],
        )
    return TalkDurations(overall, {o: by.get(o, EMPTY_STATS) for o in OUTCOMES}, operator)


def operator_load(db: Db, since: datetime, until: datetime) -> OperatorLoad:
    """Per operator: entries taken in the period, handle times, busy share, callbacks done."""
    since, until = aware(since), aware(until)
    period_s = (until - since).total_seconds()
    handle_s = db.seconds(QueueEntryRow.closed_at, QueueEntryRow.taken_at)
    taken_where = [
        *during(QueueEntryRow.taken_at, since, until),
        QueueEntryRow.operator.is_not(None),
    ]
    with db.engine.connect() as conn:
        taken = counts_of(
            conn,
            select(QueueEntryRow.operator, func.count())
            .where(*taken_where)
            .group_by(QueueEntryRow.operator),
        )
        handle = db.stats_by(
            conn,
            QueueEntryRow.operator,
            handle_s,
            [*taken_where, QueueEntryRow.state == "closed"],
        )
        done = counts_of(
            conn,
            select(CallbackRow.operator, func.count())
            .where(
                *during(CallbackRow.closed_at, since, until),
                CallbackRow.state == "done",
                CallbackRow.operator.is_not(None),
            )
            .group_by(CallbackRow.operator),
        )
        names = {
            str(login): str(name)
            for login, name in conn.execute(
                select(OperatorRow.login, OperatorRow.name).where(OperatorRow.role == "operator")
            )
        }
    logins = sorted(set(names) | set(taken) | set(done))
    rows = []
    for login in logins:
        stats = handle.get(login, EMPTY_STATS)
        rows.append(
            OperatorLoadRow(
                login=login,
                name=names.get(login, ""),
                taken=int(taken.get(login, 0)),
                handle=stats,
                busy_share=stats.total / period_s if period_s > 0 else 0.0,
                callbacks_done=int(done.get(login, 0)),
            )
        )
    return OperatorLoad(period_s, tuple(rows))


def demand_by_hour(db: Db, since: datetime, until: datetime, tz: str) -> Demand:
    """Per local hour of the day: queue arrivals per hour and the mean operator handle time."""
    since, until, zone = zoned_period(since, until, tz)
    hour = db.local_hour(QueueEntryRow.enqueued_at, zone, since, until).label("h")
    handle_s = db.seconds(QueueEntryRow.closed_at, QueueEntryRow.taken_at)
    query = (
        select(hour, func.count(), func.count(handle_s), func.avg(handle_s))
        .where(*during(QueueEntryRow.enqueued_at, since, until))
        .group_by(hour)
    )
    with db.engine.connect() as conn:
        found = {int(h): (int(n), int(k), m) for h, n, k, m in conn.execute(query)}
    observed = hours_observed(since, until, zone)
    rows = []
    for h in range(24):
        offered, handled, mean = found.get(h, (0, 0, None))
        rate = offered / observed[h] if observed[h] else 0.0
        rows.append(
            DemandRow(h, observed[h], offered, rate, handled, None if mean is None else float(mean))
        )
    return Demand(tz, tuple(rows))
