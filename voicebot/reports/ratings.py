"""Post-call ratings (DTMF 1-5, `calls.rating`): how many calls were rated, the distribution and
mean, overall and per topic."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import case, func, select

from voicebot.reports.callers import topic_pairs
from voicebot.reports.model import RATING_VALUES, RatingRow, Ratings
from voicebot.reports.periods import aware, share_of
from voicebot.reports.sql import Db, during
from voicebot.store.schema import CallRow


def ratings(db: Db, since: datetime, until: datetime) -> Ratings:
    """Ratings of the period's calls: counts per value, mean, share rated, per topic."""
    since, until = aware(since), aware(until)
    period = during(CallRow.started_at, since, until)
    rated = CallRow.rating.between(1, 5)
    resolved = func.coalesce(func.sum(case((CallRow.outcome == "resolved_by_bot", 1), else_=0)), 0)
    pairs = topic_pairs(db, since, until)
    with db.engine.connect() as conn:
        calls, served = conn.execute(select(func.count(), resolved).where(*period)).one()
        overall = {
            int(value or 0): int(n)
            for value, n in conn.execute(
                select(CallRow.rating, func.count()).where(*period, rated).group_by(CallRow.rating)
            )
        }
        by_topic: dict[str, dict[int, int]] = defaultdict(dict)
        for key, value, n in conn.execute(
            select(pairs.c.key, CallRow.rating, func.count())
            .join(CallRow, CallRow.call_id == pairs.c.call_id)
            .where(rated)
            .group_by(pairs.c.key, CallRow.rating)
        ):
            by_topic[str(key)][int(value)] = int(n)
    n_rated = sum(overall.values())
    rows = sorted(
        (
            RatingRow(topic, sum(found.values()), _mean(found), _distribution(found))
            for topic, found in by_topic.items()
        ),
        key=lambda r: (-r.rated, r.topic),
    )
    return Ratings(
        calls=int(calls),
        resolved_by_bot=int(served),
        rated=n_rated,
        rated_share=share_of(n_rated, int(calls)),
        rated_share_resolved=share_of(n_rated, int(served)),
        mean=_mean(overall),
        distribution=_distribution(overall),
        rows=tuple(rows),
    )


def _distribution(found: Mapping[int, int]) -> dict[str, int]:
    return {value: found.get(int(value), 0) for value in RATING_VALUES}


def _mean(found: Mapping[int, int]) -> float | None:
    n = sum(found.values())
    return sum(value * k for value, k in found.items()) / n if n else None
