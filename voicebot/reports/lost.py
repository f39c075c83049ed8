"""Lost calls: who got no answer, why, and whether a later call or a callback reached them."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import exists, func, select

from voicebot.reports.model import (
    ANONYMOUS_CALLERS,
    LOST_REASONS,
    SERVED_OUTCOMES,
    LostCall,
    LostCalls,
)
from voicebot.reports.periods import as_utc, as_utc_or_none, aware
from voicebot.reports.sql import Db, bind_at, during
from voicebot.store.schema import CallbackRow, CallRow

_LOST_OUTCOMES: Final = ("abandoned", "after_hours", "caller_hung_up", "failed", "protocol_error")


def lost_calls(db: Db, since: datetime, until: datetime, *, limit: int | None = None) -> LostCalls:
    """Lost calls (LOST_REASONS) with caller numbers and whether they were reached since."""
    since, until = aware(since), aware(until)
    later = CallRow.__table__.alias("later")
    next_served = (
        select(func.min(later.c.started_at))
        .where(
            later.c.caller == CallRow.caller,
            later.c.started_at > CallRow.started_at,
            later.c.outcome.in_(SERVED_OUTCOMES),
        )
        .scalar_subquery()
    )
    columns = (
        CallRow.call_id,
        CallRow.caller,
        CallRow.started_at,
        CallRow.outcome,
        CallRow.answered_at,
        CallRow.escalation_topic,
        next_served,
    )
    period = during(CallRow.started_at, since, until)
    done = CallbackRow.__table__.alias("done")
    no_done = ~exists().where(done.c.call_id == CallbackRow.call_id, done.c.state == "done")
    with db.engine.connect() as conn:
        found = conn.execute(
            select(*columns).where(*period, CallRow.outcome.in_(_LOST_OUTCOMES))
        ).all()
        unmade = conn.execute(
            select(*columns)
            .select_from(CallbackRow)
            .join(CallRow, CallRow.call_id == CallbackRow.call_id)
            .where(
                *period,
                CallRow.outcome == "callback_requested",
                CallbackRow.state.in_(("failed", "cancelled")),
                no_done,
            )
            .distinct()
        ).all()
        callbacks: dict[str, list[datetime]] = defaultdict(list)
        for caller, closed in conn.execute(
            select(CallbackRow.caller, CallbackRow.closed_at)
            .where(CallbackRow.state == "done", CallbackRow.closed_at > bind_at(since))
            .order_by(CallbackRow.closed_at)
        ):
            callbacks[caller].append(as_utc(closed))
    lost = [_lost_call(tuple(r), callbacks) for r in found]
    lost += [_lost_call(tuple(r), callbacks, reason="callback_not_made") for r in unmade]
    lost.sort(key=lambda c: (c.started_at, c.call_id), reverse=True)
    by_reason = {reason: 0 for reason in LOST_REASONS}
    for call in lost:
        by_reason[call.reason] += 1
    by_call = sum(1 for c in lost if c.recovered_by == "call")
    by_callback = sum(1 for c in lost if c.recovered_by == "callback")
    to_call = {c.caller for c in lost if c.callable and c.recovered_by is None}
    return LostCalls(
        total=len(lost),
        by_reason=by_reason,
        recovered_by_call=by_call,
        recovered_by_callback=by_callback,
        not_recovered=len(lost) - by_call - by_callback,
        callers_to_call_back=len(to_call),
        rows=tuple(lost if limit is None else lost[:limit]),
    )


def _lost_reason(outcome: str, answered_at: Any) -> str:
    if outcome == "abandoned":
        return "abandoned_in_queue"
    if outcome == "after_hours":
        return "after_hours"
    if outcome in ("failed", "protocol_error"):
        return "technical_failure"
    if outcome == "caller_hung_up":
        return "hung_up_before_answer" if answered_at is None else "hung_up_on_bot"
    raise ValueError(f"outcome {outcome!r} is not lost")


def _lost_call(
    row: tuple[Any, ...],
    callbacks: Mapping[str, list[datetime]],
    *,
    reason: str | None = None,
) -> LostCall:
    call_id, caller, started, outcome, answered_at, topic, next_served = row
    started = as_utc(started)
    callable_ = str(caller).lower() not in ANONYMOUS_CALLERS
    recovered_by: str | None = None
    recovered_at: datetime | None = None
    if callable_:
        by_call = as_utc_or_none(next_served)
        times = callbacks.get(caller, [])
        i = bisect.bisect_right(times, started)
        by_callback = times[i] if i < len(times) else None
        if by_call is not None and (by_callback is None or by_call <= by_callback):
            recovered_by, recovered_at = "call", by_call
        elif by_callback is not None:
            recovered_by, recovered_at = "callback", by_callback
    why = reason or _lost_reason(outcome, answered_at)
    return LostCall(call_id, caller, started, why, topic, callable_, recovered_by, recovered_at)
