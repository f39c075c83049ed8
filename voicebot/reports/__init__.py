"""Reports for the hotline owner (issue 7), computed in SQL on SQLite and PostgreSQL alike.

Every method takes a period `[since, until)` of aware datetimes; reports bucketed by hour or day
also take an IANA time zone (reports are read in local time, e.g. "Europe/Moscow"). A call
belongs to the period by `calls.started_at`, a queue entry by `enqueued_at` (handle times and
operator load by `taken_at`), a callback by `requested_at`. States are read as stored now.

Definitions (seconds are real-valued; durations of rows still open are left out):
- bot answer time: `calls.answered_at - started_at`; CallStore sets answered_at to the first bot
  turn's started_at (unless the PBX passed its own answer time to start_call).
- operator answer time (wait): `taken_at - enqueued_at` of entries taken; an abandoned or
  called-back entry waited `closed_at - enqueued_at`. Service level = entries taken within the
  target / entries whose wait ended (taken, abandoned or turned into a callback).
- talk duration: `ended_at - started_at` of ended calls; operator handle time:
  `closed_at - taken_at` of closed entries. Operator busy share = handle time / period length
  (presence history is not stored, so it is not relative to logged-in time).
- a call's topics: the topics of the FAQ entries the bot answered in it (bot turns of kind
  "answer" with an entry_id; entry -> topic from the knowledge base, given to Reports; entries
  not in it count under UNKNOWN_TOPIC) plus its escalation topic, if any.
- repeated: a later call from the same known number started within `window_days` after it
  (callers in ANONYMOUS_CALLERS never repeat). The later call may fall after `until`.
- contained: the bot answered and the call ended resolved_by_bot; contained_no_repeat: and it
  was not repeated. to_person: the call ended in PERSON_OUTCOMES (the caller wanted a person).
- lost: see LOST_REASONS; recovered by the first later call from the number that ended in
  SERVED_OUTCOMES, or the first callback to the number done after the lost call started.
- post-call rating: `calls.rating` (1-5), written by CallStore.set_rating when bot.yaml has
  `post_call_rating: true` (the question follows «нет, спасибо» after the bot's answers, so the
  rated calls are mostly resolved_by_bot ones); a rated call counts under each of its topics.

Percentiles are percentile_cont (linear interpolation between closest ranks): PostgreSQL's own
ordered-set aggregate; on SQLite a window query ranks the values per bucket and only the two
neighbouring ranks of each percentile are fetched and interpolated here. Local time on
PostgreSQL is `timezone(zone, ts)`; SQLite has no zone database, so the zone's UTC offsets over
the period are looked up with zoneinfo and applied as a CASE of strftime modifiers. In the
autumn DST change the repeated local hour is one bucket.

Modules: model (constants, report dataclasses), export (JSON, CSV), periods (aware periods, local
hours and days in Python), sql (Db: seconds, local-time keys, statistics), traffic (volume,
outcomes, times, load, demand), callers (containment, repeats), lost (lost calls), ratings,
core (Reports, one method per report), planning (staffing and lost revenue from the reports).
"""

from voicebot.reports.core import Reports
from voicebot.reports.export import csv_rows, to_csv, to_json
from voicebot.reports.model import (
    ANONYMOUS_CALLERS,
    EMPTY_STATS,
    IN_PROGRESS,
    LOST_REASONS,
    PERSON_OUTCOMES,
    RATING_VALUES,
    SERVED_OUTCOMES,
    UNKNOWN_TOPIC,
    WAIT_BINS,
    AnswerTimes,
    Containment,
    ContainmentRow,
    Demand,
    DemandRow,
    LostCall,
    LostCalls,
    OperatorLoad,
    OperatorLoadRow,
    OutcomeSplit,
    RatingRow,
    Ratings,
    RepeatCaller,
    RepeatCalls,
    Stats,
    TalkDurations,
    Volume,
    VolumeRow,
    WaitByHour,
    WaitHourRow,
)

__all__ = [
    "ANONYMOUS_CALLERS",
    "EMPTY_STATS",
    "IN_PROGRESS",
    "LOST_REASONS",
    "PERSON_OUTCOMES",
    "RATING_VALUES",
    "SERVED_OUTCOMES",
    "UNKNOWN_TOPIC",
    "WAIT_BINS",
    "AnswerTimes",
    "Containment",
    "ContainmentRow",
    "Demand",
    "DemandRow",
    "LostCall",
    "LostCalls",
    "OperatorLoad",
    "OperatorLoadRow",
    "OutcomeSplit",
    "RatingRow",
    "Ratings",
    "RepeatCaller",
    "RepeatCalls",
    "Reports",
    "Stats",
    "TalkDurations",
    "Volume",
    "VolumeRow",
    "WaitByHour",
    "WaitHourRow",
    "csv_rows",
    "to_csv",
    "to_json",
]
