"""`Reports`: every report over one database, one method each (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.engine import Engine

from voicebot.reports import callers, lost, ratings, traffic
from voicebot.reports.model import (
    AnswerTimes,
    Containment,
    Demand,
    LostCalls,
    OperatorLoad,
    OutcomeSplit,
    Ratings,
    RepeatCalls,
    TalkDurations,
    Volume,
    WaitByHour,
)
from voicebot.reports.sql import Db
from voicebot.store.schema import make_engine


class Reports:
    """Every report over one database; `entry_topics` maps FAQ entry ids to their topics."""

    def __init__(
        self, target: Engine | str, *, entry_topics: Mapping[str, str] | None = None
    ) -> None:
        """Use an engine (shared with the stores) or open one for a URL."""
        self._own = not isinstance(target, Engine)
        engine = target if isinstance(target, Engine) else make_engine(target)
        self._db = Db(engine, dict(entry_topics or {}))

    def close(self) -> None:
        """Release the engine if Reports opened it."""
        if self._own:
            self._db.engine.dispose()

    def __enter__(self) -> Reports:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- volume and outcomes -------------------------------------------------------------------

    def calls_per_day(self, since: datetime, until: datetime, tz: str) -> Volume:
        """Calls started per local day, by outcome."""
        return traffic.volume(self._db, since, until, tz, "day")

    def calls_per_hour(self, since: datetime, until: datetime, tz: str) -> Volume:
        """Calls started per local hour, by outcome."""
        return traffic.volume(self._db, since, until, tz, "hour")

    def outcomes(self, since: datetime, until: datetime) -> OutcomeSplit:
        """The outcome split of the period's calls, queue entries and callbacks."""
        return traffic.outcomes(self._db, since, until)

    # --- times ---------------------------------------------------------------------------------

    def answer_times(
        self, since: datetime, until: datetime, *, target_s: float = 20.0
    ) -> AnswerTimes:
        """Time to answer by the bot and by an operator (p50/p95), and the service level."""
        return traffic.answer_times(self._db, since, until, target_s=target_s)

    def wait_by_hour(
        self, since: datetime, until: datetime, tz: str, *, target_s: float = 20.0
    ) -> WaitByHour:
        """Queue waits per local hour of the day: volumes, p50/p95, service level, histogram."""
        return traffic.wait_by_hour(self._db, since, until, tz, target_s=target_s)

    def talk_durations(self, since: datetime, until: datetime) -> TalkDurations:
        """Call durations (overall, per outcome) and operator handle times (taken in period)."""
        return traffic.talk_durations(self._db, since, until)

    def operator_load(self, since: datetime, until: datetime) -> OperatorLoad:
        """Per operator: entries taken in the period, handle times, busy share, callbacks done."""
        return traffic.operator_load(self._db, since, until)

    # --- containment and repeats ---------------------------------------------------------------

    def containment_by_entry(
        self, since: datetime, until: datetime, *, window_days: int = 7
    ) -> Containment:
        """Per FAQ entry the bot answered: calls, contained (with and without a repeat call)."""
        return callers.containment_by_entry(self._db, since, until, window_days=window_days)

    def containment_by_topic(
        self, since: datetime, until: datetime, *, window_days: int = 7
    ) -> Containment:
        """Per topic (see the package): calls, contained (with and without a repeat call)."""
        return callers.containment_by_topic(self._db, since, until, window_days=window_days)

    def repeat_calls(
        self, since: datetime, until: datetime, *, window_days: int = 7, limit: int | None = 100
    ) -> RepeatCalls:
        """Calls followed by another from the same number within `window_days`; the callers."""
        return callers.repeat_calls(self._db, since, until, window_days=window_days, limit=limit)

    # --- lost calls and ratings ----------------------------------------------------------------

    def lost_calls(
        self, since: datetime, until: datetime, *, limit: int | None = None
    ) -> LostCalls:
        """Lost calls (LOST_REASONS) with caller numbers and whether they were reached since."""
        return lost.lost_calls(self._db, since, until, limit=limit)

    def ratings(self, since: datetime, until: datetime) -> Ratings:
        """Post-call ratings of the period's calls: distribution, mean, share rated, per topic."""
        return ratings.ratings(self._db, since, until)

    # --- staffing input ------------------------------------------------------------------------

    def demand_by_hour(self, since: datetime, until: datetime, tz: str) -> Demand:
        """Per local hour of the day: queue arrivals per hour and the mean operator handle time."""
        return traffic.demand_by_hour(self._db, since, until, tz)
