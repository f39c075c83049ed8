"""The reports' data: constants and frozen dataclasses (the package docstring defines them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

IN_PROGRESS: Final = "in_progress"  # calls without an outcome yet
UNKNOWN_TOPIC: Final = "?"
ANONYMOUS_CALLERS: Final = ("", "anonymous", "unknown", "restricted", "private", "unavailable")
PERSON_OUTCOMES: Final = ("escalated", "callback_requested", "abandoned", "after_hours")
SERVED_OUTCOMES: Final = ("resolved_by_bot", "escalated")
# reason -> what makes a call of the period lost
LOST_REASONS: Final = {
    "abandoned_in_queue": "outcome abandoned: hung up while waiting for an operator",
    "after_hours": "outcome after_hours: outside working hours, no callback wanted",
    "hung_up_before_answer": "outcome caller_hung_up and the bot never spoke (answered_at NULL)",
    # The call session records caller_hung_up only before the bot answered a question.
    "hung_up_on_bot": "outcome caller_hung_up after the bot spoke (answered_at set)",
    "callback_not_made": "outcome callback_requested; its callback failed or was cancelled",
    "technical_failure": "outcome failed or protocol_error",
}
WAIT_BINS: Final = (20.0, 60.0, 120.0, 300.0)  # upper bounds (s) of the wait histogram bins
RATING_VALUES: Final = ("1", "2", "3", "4", "5")  # post-call rating keys, worst first
Unit = Literal["hour", "day"]


@dataclass(frozen=True)
class Stats:
    """Count, sum, mean, median, 95th percentile and maximum of durations in seconds."""

    count: int
    total: float
    mean: float | None
    p50: float | None
    p95: float | None
    max: float | None


EMPTY_STATS: Final = Stats(0, 0.0, None, None, None, None)


@dataclass(frozen=True)
class VolumeRow:
    """Calls started in one local hour ("YYYY-MM-DD HH") or day ("YYYY-MM-DD"), by outcome."""

    bucket: str
    calls: int
    outcomes: Mapping[str, int]  # every OUTCOMES key and IN_PROGRESS


@dataclass(frozen=True)
class Volume:
    """Calls per local hour or day; every bucket of the period, empty ones included."""

    unit: str
    tz: str
    rows: tuple[VolumeRow, ...]


@dataclass(frozen=True)
class OutcomeSplit:
    """How the calls of the period ended, with the queue and callbacks behind them."""

    calls: int
    by_outcome: Mapping[str, int]  # every OUTCOMES key and IN_PROGRESS
    answered_by_bot: int  # the bot spoke (answered_at set)
    contained_share: float | None  # resolved_by_bot / ended calls
    escalated_answered: int  # escalated, and an operator took its queue entry
    escalated_direct: int  # escalated without a taken queue entry (transferred at once)
    queue_by_state: Mapping[str, int]  # entries enqueued in the period
    callbacks_by_state: Mapping[str, int]  # callbacks requested in the period
    callbacks_overdue: int  # of those, open or taken with the deadline before `until`


@dataclass(frozen=True)
class AnswerTimes:
    """Time to answer by the bot and by an operator, and the operators' service level."""

    bot: Stats
    operator: Stats
    target_s: float
    waits_ended: int
    taken_within_target: int
    service_level: float | None


@dataclass(frozen=True)
class WaitHourRow:
    """Queue waits of entries enqueued in one local hour of the day (0-23)."""

    hour: int
    hours_observed: int  # how many such local hours the period holds
    offered: int
    taken: int
    abandoned: int
    callback: int
    waiting: int
    taken_wait: Stats
    abandoned_wait: Stats
    service_level: float | None  # taken within target / waits ended
    histogram: Mapping[str, int]  # ended waits per WAIT_BINS bin ("0-20", ..., "300+")


@dataclass(frozen=True)
class WaitByHour:
    """How waits grow at peak hours."""

    tz: str
    target_s: float
    rows: tuple[WaitHourRow, ...]


@dataclass(frozen=True)
class TalkDurations:
    """Call durations, overall and per outcome, and operators' handle times."""

    calls: Stats
    by_outcome: Mapping[str, Stats]
    operator: Stats


@dataclass(frozen=True)
class OperatorLoadRow:
    """One operator's work in the period."""

    login: str
    name: str
    taken: int
    handle: Stats  # closed entries
    busy_share: float
    callbacks_done: int


@dataclass(frozen=True)
class OperatorLoad:
    """Per operator: entries taken, handle times, share of the period busy, callbacks done."""

    period_s: float
    rows: tuple[OperatorLoadRow, ...]


@dataclass(frozen=True)
class ContainmentRow:
    """Containment of calls answered with one FAQ entry, or about one topic."""

    key: str  # entry id or topic
    topic: str
    calls: int
    contained: int
    contained_share: float | None
    contained_no_repeat: int
    contained_no_repeat_share: float | None
    to_person: int
    repeated: int


@dataclass(frozen=True)
class Containment:
    """Containment per FAQ entry ("entry") or per topic ("topic")."""

    by: str
    window_days: int
    rows: tuple[ContainmentRow, ...]


@dataclass(frozen=True)
class RepeatCaller:
    """A number that called again within the window, and what about."""

    caller: str
    calls: int
    repeated: int
    first_at: datetime
    last_at: datetime
    topics: tuple[str, ...]


@dataclass(frozen=True)
class RepeatCalls:
    """Calls followed by another call from the same number within `window_days`."""

    window_days: int
    calls: int  # calls of the period from known numbers
    repeated: int
    repeat_share: float | None
    by_topic: Mapping[str, int]  # repeated calls per topic
    rows: tuple[RepeatCaller, ...]  # most repeats first


@dataclass(frozen=True)
class LostCall:
    """A call that got no answer, whom to call back, and whether they were reached since."""

    call_id: str
    caller: str
    started_at: datetime
    reason: str  # a LOST_REASONS key
    topic: str | None
    callable: bool  # a known number
    recovered_by: str | None  # "call", "callback" or None
    recovered_at: datetime | None


@dataclass(frozen=True)
class LostCalls:
    """Lost calls of the period, newest first."""

    total: int
    by_reason: Mapping[str, int]
    recovered_by_call: int
    recovered_by_callback: int
    not_recovered: int
    callers_to_call_back: int  # distinct known numbers not recovered
    rows: tuple[LostCall, ...]


@dataclass(frozen=True)
class RatingRow:
    """Post-call ratings of the calls about one topic (a call may have several topics)."""

    topic: str
    rated: int
    mean: float | None
    distribution: Mapping[str, int]  # RATING_VALUES -> count


@dataclass(frozen=True)
class Ratings:
    """Post-call ratings (DTMF 1-5) of the period's calls, overall and per topic."""

    calls: int
    resolved_by_bot: int  # the calls the question follows (bot.yaml `post_call_rating: true`)
    rated: int
    rated_share: float | None  # rated / calls
    rated_share_resolved: float | None  # rated / resolved_by_bot
    mean: float | None
    distribution: Mapping[str, int]  # RATING_VALUES -> count
    rows: tuple[RatingRow, ...]  # per topic, most rated first


@dataclass(frozen=True)
class DemandRow:
    """Operator demand in one local hour of the day: queue arrivals and handle time."""

    hour: int
    hours_observed: int
    offered: int
    arrivals_per_hour: float
    handled: int
    mean_handle_s: float | None


@dataclass(frozen=True)
class Demand:
    """Per local hour of the day, what staffing needs (voicebot.staffing)."""

    tz: str
    rows: tuple[DemandRow, ...]
