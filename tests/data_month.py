"""A generated month of hotline calls (seeded), written through the real tables, and the reports
computed independently in plain Python from the generator's own records.

March 2025 in Moscow time is the report period; calls are generated from four days before to
five days after it (the boundaries, repeat windows and later recoveries need them). Arrivals per
local hour follow a daily profile with peaks at 10-12 and 14-16; queue waits grow with the
hour's load. Times sit on a millisecond grid (SQLite's date functions keep milliseconds).
About 45 % of the calls the bot resolved carry a post-call rating (1-5, worse on billing), drawn
from a random stream of its own so that the calls themselves do not depend on it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Table, insert

from voicebot.reports import (
    ANONYMOUS_CALLERS,
    IN_PROGRESS,
    LOST_REASONS,
    PERSON_OUTCOMES,
    RATING_VALUES,
    SERVED_OUTCOMES,
    UNKNOWN_TOPIC,
    WAIT_BINS,
    AnswerTimes,
    ContainmentRow,
    LostCall,
    OperatorLoadRow,
    OutcomeSplit,
    RatingRow,
    Ratings,
    Stats,
    TalkDurations,
    VolumeRow,
    WaitHourRow,
)
from voicebot.store.calls import OUTCOMES
from voicebot.store.migrations import migrate
from voicebot.store.schema import (
    CallbackRow,
    CallRow,
    OperatorRow,
    QueueEntryRow,
    TurnRow,
    make_engine,
)

TZ = "Europe/Moscow"
ZONE = ZoneInfo(TZ)
SINCE = datetime(2025, 3, 1, tzinfo=ZONE).astimezone(UTC)
UNTIL = datetime(2025, 4, 1, tzinfo=ZONE).astimezone(UTC)
GEN_FROM = SINCE - timedelta(days=4)
NOW = UNTIL + timedelta(days=5)  # the generator's "now": later events have not happened yet
OPEN_HOURS = range(9, 18)  # local working hours
# calls per local hour of the day
HOURLY = (1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 2, 5, 9, 13, 14, 10, 9, 12, 13, 10, 8, 6, 4, 3, 2, 2, 1)
ENTRIES = {
    "pay-card": "billing",
    "pay-debt": "billing",
    "pay-refund": "billing",
    "net-down": "internet",
    "net-speed": "internet",
    "net-router": "internet",
    "tv-channels": "tv",
    "tv-remote": "tv",
    "office-hours": "general",
    "old-entry": "legacy",  # answered, but no longer in the knowledge base
}
ENTRY_TOPICS = {k: v for k, v in ENTRIES.items() if k != "old-entry"}
TOPICS = ("billing", "internet", "tv", "general")
OPERATORS = ("ivanova", "petrov", "sidorova", "kuznetsov", "smirnova")
RATED_SHARE = 0.45  # of the calls resolved by the bot
RATING_WEIGHTS = {"billing": (3, 2, 3, 4, 4)}  # weights of 1..5 per topic
DEFAULT_RATING_WEIGHTS = (1, 1, 2, 5, 8)


@dataclass
class Month:
    """Rows of every table, as dicts keyed by column name."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    operators: list[dict[str, Any]] = field(default_factory=list)


def ms(t: datetime) -> datetime:
    """The time on the millisecond grid."""
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rating_rng = random.Random(seed + 1_000_003)  # ratings only: the calls stay the same
        self.month = Month()
        self.n = 0

    def caller(self) -> str:
        r = self.rng.random()
        if r < 0.04:
            return self.rng.choice(("", "anonymous"))
        if r < 0.30:
            return f"+7916{self.rng.randrange(10**7):07d}"
        return f"+7900{int(self.rng.paretovariate(0.9)) % 700:07d}"

    def run(self) -> Month:
        m = self.month
        created = GEN_FROM - timedelta(days=30)
        for login in OPERATORS:
            m.operators.append(_operator(login, "operator", created))
        m.operators.append(_operator("boss", "supervisor", created))
        hour = GEN_FROM
        while hour < NOW:
            rate = HOURLY[hour.astimezone(ZONE).hour]
            starts = sorted(
                ms(hour + timedelta(seconds=self.rng.uniform(0, 3600)))
                for _ in range(_poisson(self.rng, rate))
            )
            for start in starts:
                self.call(start, rate)
            hour += timedelta(hours=1)
        return m

    def call(self, start: datetime, rate: float) -> None:
        rng = self.rng
        self.n += 1
        call_id = f"c{self.n:06d}"
        row: dict[str, Any] = {
            "call_id": call_id,
            "caller": self.caller(),
            "called": "88005553535",
            "codec": "pcmu",
            "sample_rate": 8000,
            "started_at": start,
            "answered_at": None,
            "ended_at": None,
            "outcome": None,
            "end_reason": None,
            "escalation_reason": None,
            "escalation_topic": None,
            "escalation_priority": None,
            "summary": None,
            "meta": {},
            "kb_version": "v1",
            "rating": None,
        }
        self.month.calls.append(row)
        turns: list[dict[str, Any]] = []

        def turn(role: str, kind: str, at: datetime, entry: str | None = None) -> datetime:
            end = ms(at + timedelta(seconds=rng.uniform(1, 6)))
            turns.append(
                {
                    "call_id": call_id,
                    "seq": len(turns) + 1,
                    "role": role,
                    "text": kind,
                    "kind": kind,
                    "started_at": at,
                    "ended_at": end,
                    "entry_id": entry,
                    "decision": "answer" if kind == "answer" else None,
                    "alternatives": [],
                    "interrupted": False,
                }
            )
            return end

        def end(outcome: str | None, at: datetime) -> None:
            self.month.turns.extend(turns)
            if outcome is not None:
                row.update(outcome=outcome, end_reason=outcome, ended_at=at)
            if outcome == "resolved_by_bot" and self.rating_rng.random() < RATED_SHARE:
                weights = RATING_WEIGHTS.get(topic, DEFAULT_RATING_WEIGHTS)
                row["rating"] = self.rating_rng.choices(range(1, 6), weights)[0]

        if rng.random() < 0.04:  # hangs up before the bot speaks
            end("caller_hung_up", ms(start + timedelta(seconds=rng.uniform(0.5, 4))))
            return
        greeting = ms(start + timedelta(seconds=rng.uniform(0.3, 3.0)))
        row["answered_at"] = greeting
        t = turn("bot", "greeting", greeting)
        r = rng.random()
        topic = rng.choice(TOPICS)
        if r < 0.003:
            end(None, t)  # stuck: never ended
            return
        if r < 0.58:
            for _ in range(1 if rng.random() < 0.7 else 2):
                entry = rng.choices(list(ENTRIES), weights=(5, 3, 1, 6, 3, 2, 2, 1, 2, 1))[0]
                topic = ENTRIES[entry]
                t = turn("caller", "utterance", t)
                t = turn("bot", "answer", t, entry)
            if rng.random() < 0.8:
                end("resolved_by_bot", turn("bot", "goodbye", t))
                return
            if rng.random() < 0.15:
                end("max_duration", t)
                return
        elif r < 0.64:
            t = turn("caller", "utterance", t)
            end("caller_hung_up", turn("bot", "clarify", t))
            return
        elif r < 0.68:
            end("no_input", turn("bot", "prompt", t))
            return
        elif r < 0.70:
            end(rng.choice(("failed", "protocol_error")), t)
            return
        # the caller wants a person
        t = turn("caller", "utterance", t)
        t = turn("bot", "transfer", t)
        row.update(
            escalation_reason="caller_request",
            escalation_topic=topic,
            escalation_priority=0,
            summary="просит оператора",
        )
        if start.astimezone(ZONE).hour not in OPEN_HOURS:
            if rng.random() < 0.5:
                end("after_hours", ms(t + timedelta(seconds=rng.uniform(5, 20))))
            else:
                self.callback(row, topic, t)
                end("callback_requested", ms(t + timedelta(seconds=3)))
            return
        if rng.random() < 0.08:  # transferred at once (queue down)
            end("escalated", t)
            return
        self.queue(row, topic, t, rate, end)

    def queue(self, row: dict[str, Any], topic: str, at: datetime, rate: float, end: Any) -> None:
        rng = self.rng
        wait = rng.expovariate(1 / (10 + 9 * rate))
        patience = rng.expovariate(1 / 150)
        wants_callback = rng.uniform(20, 90) if rng.random() < 0.15 else math.inf
        entry: dict[str, Any] = {
            "id": len(self.month.entries) + 1,
            "call_id": row["call_id"],
            "caller": row["caller"],
            "topic": topic,
            "priority": 0,
            "priority_reasons": [],
            "reason": "caller_request",
            "card": {},
            "state": "waiting",
            "enqueued_at": at,
            "operator": None,
            "extension": None,
            "taken_at": None,
            "closed_at": None,
            "result": None,
        }
        self.month.entries.append(entry)
        first = min(wait, patience, wants_callback)
        if at + timedelta(seconds=first) > NOW:
            end(None, at)
            return
        gone = ms(at + timedelta(seconds=first))
        if wait == first:
            login = rng.choice(OPERATORS)
            entry.update(state="taken", operator=login, extension="10", taken_at=gone)
            closed = ms(gone + timedelta(seconds=rng.lognormvariate(math.log(170), 0.5)))
            if closed > NOW or rng.random() < 0.01:  # still on the line, or left open
                end(None, gone)
                return
            entry.update(state="closed", closed_at=closed, result="решено")
            end("escalated", closed)
        elif patience == first:
            entry.update(state="abandoned", closed_at=gone)
            end("abandoned", gone)
        else:
            entry.update(state="callback", closed_at=gone)
            self.callback(row, topic, gone)
            end("callback_requested", ms(gone + timedelta(seconds=4)))

    def callback(self, row: dict[str, Any], topic: str, at: datetime) -> None:
        rng = self.rng
        cb: dict[str, Any] = {
            "id": len(self.month.callbacks) + 1,
            "call_id": row["call_id"],
            "caller": row["caller"],
            "topic": topic,
            "summary": "перезвонить",
            "requested_at": at,
            "deadline": at + timedelta(hours=4),
            "state": "open",
            "operator": None,
            "taken_at": None,
            "closed_at": None,
            "result": None,
            "attempts": 0,
        }
        self.month.callbacks.append(cb)
        state = rng.choices(("done", "failed", "cancelled", "open", "taken"), (70, 10, 5, 10, 5))[0]
        taken = ms(at + timedelta(seconds=rng.uniform(600, 5 * 3600)))
        closed = ms(taken + timedelta(seconds=rng.uniform(60, 300)))
        if state == "open" or closed > NOW:
            return
        cb.update(state=state, operator=rng.choice(OPERATORS), taken_at=taken, attempts=1)
        if state == "cancelled":
            cb.update(operator=None, taken_at=None, closed_at=closed, attempts=0)
        elif state != "taken":
            cb.update(closed_at=closed, result=state, attempts=3 if state == "failed" else 1)


def _operator(login: str, role: str, created: datetime) -> dict[str, Any]:
    return {
        "login": login,
        "name": login.capitalize(),
        "role": role,
        "password_hash": "x",
        "extension": "10",
        "topics": [],
        "active": True,
        "created_at": created,
        "status": "offline",
    }


def generate(seed: int = 7) -> Month:
    """The month of calls for `seed`."""
    return _Generator(seed).run()


def write(month: Month, url: str) -> None:
    """Migrate the database at `url` and bulk-insert the month through the real tables."""
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for model, rows in (
                (OperatorRow, month.operators),
                (CallRow, _renamed(month.calls)),
                (TurnRow, month.turns),
                (QueueEntryRow, month.entries),
                (CallbackRow, month.callbacks),
            ):
                table = cast(Table, model.__table__)
                if rows:
                    conn.execute(insert(table), rows)
    finally:
        engine.dispose()


def _renamed(calls: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Core inserts use column names: the `meta` attribute is the `metadata` column."""
    return [{("metadata" if k == "meta" else k): v for k, v in c.items()} for c in calls]


# --------------------------------------------------------------------------- independent values


def seconds(end: datetime, start: datetime) -> float:
    """end - start in seconds."""
    return (end - start).total_seconds()


def stats(values: Sequence[float]) -> Stats:
    """Stats with numpy's linear-interpolation percentiles."""
    if not values:
        return Stats(0, 0.0, None, None, None, None)
    p50, p95 = np.percentile(np.asarray(values, dtype=float), [50, 95])
    total = float(sum(values))
    return Stats(len(values), total, total / len(values), float(p50), float(p95), max(values))


def in_period(t: datetime | None) -> bool:
    """SINCE <= t < UNTIL."""
    return t is not None and SINCE <= t < UNTIL


def share(part: int, whole: int) -> float | None:
    """part / whole, None for nothing."""
    return part / whole if whole else None


class Expected:
    """Every report recomputed from the generator's records."""

    def __init__(self, month: Month) -> None:
        """Index the records."""
        self.m = month
        self.calls = [c for c in month.calls if in_period(c["started_at"])]
        self.entries = [e for e in month.entries if in_period(e["enqueued_at"])]
        self.callbacks = [c for c in month.callbacks if in_period(c["requested_at"])]
        self.by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for t in month.turns:
            self.by_call[t["call_id"]].append(t)
        self.entry_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in month.entries:
            self.entry_of[e["call_id"]].append(e)

    def volume(self, unit: str, tz: str) -> list[VolumeRow]:
        """Calls per local hour or day; every hour of the period listed."""
        zone = ZoneInfo(tz)
        fmt = "%Y-%m-%d" if unit == "day" else "%Y-%m-%d %H"
        keys: list[str] = []
        t = SINCE
        while t < UNTIL:
            key = t.astimezone(zone).strftime(fmt)
            if key not in keys:
                keys.append(key)
            t += timedelta(hours=1)
        counts: dict[str, dict[str, int]] = {k: {} for k in keys}
        for c in self.calls:
            split = counts[c["started_at"].astimezone(zone).strftime(fmt)]
            outcome = c["outcome"] or IN_PROGRESS
            split[outcome] = split.get(outcome, 0) + 1
        rows = []
        for k in keys:
            split = {o: counts[k].get(o, 0) for o in (*OUTCOMES, IN_PROGRESS)}
            rows.append(VolumeRow(k, sum(split.values()), split))
        return rows

    def outcomes(self) -> OutcomeSplit:
        """The outcome split."""
        split = {o: 0 for o in (*OUTCOMES, IN_PROGRESS)}
        for c in self.calls:
            split[c["outcome"] or IN_PROGRESS] += 1
        answered = sum(
            1
            for c in self.calls
            if c["outcome"] == "escalated"
            and any(e["state"] in ("taken", "closed") for e in self.entry_of[c["call_id"]])
        )
        queue = {s: 0 for s in ("waiting", "taken", "closed", "abandoned", "callback")}
        for e in self.entries:
            queue[e["state"]] += 1
        cbs = {s: 0 for s in ("open", "taken", "done", "failed", "cancelled")}
        for cb in self.callbacks:
            cbs[cb["state"]] += 1
        return OutcomeSplit(
            calls=len(self.calls),
            by_outcome=split,
            answered_by_bot=sum(1 for c in self.calls if c["answered_at"] is not None),
            contained_share=share(split["resolved_by_bot"], len(self.calls) - split[IN_PROGRESS]),
            escalated_answered=answered,
            escalated_direct=split["escalated"] - answered,
            queue_by_state=queue,
            callbacks_by_state=cbs,
            callbacks_overdue=sum(
                1
                for cb in self.callbacks
                if cb["state"] in ("open", "taken") and cb["deadline"] < UNTIL
            ),
        )

    def answer_times(self, target_s: float = 20.0) -> AnswerTimes:
        """Bot: first bot turn - start; operator: taken - enqueued."""
        bot = []
        for c in self.calls:
            firsts = [t["started_at"] for t in self.by_call[c["call_id"]] if t["role"] == "bot"]
            if firsts:
                bot.append(seconds(min(firsts), c["started_at"]))
        waits = [seconds(e["taken_at"], e["enqueued_at"]) for e in self.entries if e["taken_at"]]
        ended = sum(1 for e in self.entries if e["state"] != "waiting")
        within = sum(1 for w in waits if w <= target_s)
        return AnswerTimes(stats(bot), stats(waits), target_s, ended, within, share(within, ended))

    def wait_by_hour(self, target_s: float = 20.0) -> list[WaitHourRow]:
        """Queue waits per local hour of the day (Moscow: every hour occurs 31 times)."""
        rows = []
        labels = ["0-20", "20-60", "60-120", "120-300", "300+"]
        assert len(labels) == len(WAIT_BINS) + 1
        for h in range(24):
            es = [e for e in self.entries if e["enqueued_at"].astimezone(ZONE).hour == h]
            taken = [seconds(e["taken_at"], e["enqueued_at"]) for e in es if e["taken_at"]]
            gave_up = [
                seconds(e["closed_at"], e["enqueued_at"]) for e in es if e["state"] == "abandoned"
            ]
            ended = [
                seconds(e["taken_at"] or e["closed_at"], e["enqueued_at"])
                for e in es
                if e["state"] != "waiting"
            ]
            bounds = (0.0, *WAIT_BINS, math.inf)
            histogram = {
                label: sum(1 for w in ended if lo <= w < hi)
                for label, lo, hi in zip(labels, bounds, bounds[1:], strict=False)
            }
            states = [sum(1 for e in es if e["state"] == s) for s in ("abandoned", "callback")]
            waiting = sum(1 for e in es if e["state"] == "waiting")
            rows.append(
                WaitHourRow(
                    hour=h,
                    hours_observed=31,
                    offered=len(es),
                    taken=len(taken),
                    abandoned=states[0],
                    callback=states[1],
                    waiting=waiting,
                    taken_wait=stats(taken),
                    abandoned_wait=stats(gave_up),
                    service_level=share(sum(1 for w in taken if w <= target_s), len(es) - waiting),
                    histogram=histogram,
                )
            )
        return rows

    def talk(self) -> TalkDurations:
        """Call durations and operator handle times."""
        ended = [c for c in self.calls if c["ended_at"]]
        by = {
            o: stats([seconds(c["ended_at"], c["started_at"]) for c in ended if c["outcome"] == o])
            for o in OUTCOMES
        }
        handles = [
            seconds(e["closed_at"], e["taken_at"])
            for e in self.m.entries
            if in_period(e["taken_at"]) and e["state"] == "closed"
        ]
        overall = stats([seconds(c["ended_at"], c["started_at"]) for c in ended])
        return TalkDurations(overall, by, stats(handles))

    def operator_load(self) -> list[OperatorLoadRow]:
        """Per operator."""
        period = seconds(UNTIL, SINCE)
        rows = []
        for login in sorted(OPERATORS):
            taken = [
                e for e in self.m.entries if in_period(e["taken_at"]) and e["operator"] == login
            ]
            handle = stats(
                [seconds(e["closed_at"], e["taken_at"]) for e in taken if e["state"] == "closed"]
            )
            done = sum(
                1
                for cb in self.m.callbacks
                if cb["state"] == "done" and cb["operator"] == login and in_period(cb["closed_at"])
            )
            rows.append(
                OperatorLoadRow(
                    login, login.capitalize(), len(taken), handle, handle.total / period, done
                )
            )
        return rows

    def repeated(self, window_days: int) -> dict[str, bool]:
        """call_id -> followed by another call from the same known number within the window."""
        by_caller: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in self.m.calls:
            by_caller[c["caller"]].append(c)
        out = {}
        for caller, calls in by_caller.items():
            calls.sort(key=lambda c: (c["started_at"], c["call_id"]))
            known = caller.lower() not in ANONYMOUS_CALLERS
            for a, b in zip(calls, [*calls[1:], None], strict=True):
                out[a["call_id"]] = bool(
                    known
                    and b is not None
                    and seconds(b["started_at"], a["started_at"]) <= window_days * 86400
                )
        return out

    def topics(self, call: Mapping[str, Any]) -> set[str]:
        """The call's topics: of the entries answered, plus its escalation topic."""
        found = {
            ENTRY_TOPICS.get(t["entry_id"], UNKNOWN_TOPIC)
            for t in self.by_call[call["call_id"]]
            if t["role"] == "bot" and t["kind"] == "answer" and t["entry_id"]
        }
        if call["escalation_topic"]:
            found.add(call["escalation_topic"])
        return found

    def containment(self, by: str, window_days: int) -> list[ContainmentRow]:
        """Per entry or topic."""
        rep = self.repeated(window_days)
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in self.calls:
            if by == "entry":
                keys = {
                    t["entry_id"]
                    for t in self.by_call[c["call_id"]]
                    if t["role"] == "bot" and t["kind"] == "answer" and t["entry_id"]
                }
            else:
                keys = self.topics(c)
            for k in keys:
                groups[k].append(c)
        rows = []
        for k, calls in groups.items():
            contained = sum(1 for c in calls if c["outcome"] == "resolved_by_bot")
            clean = sum(
                1 for c in calls if c["outcome"] == "resolved_by_bot" and not rep[c["call_id"]]
            )
            rows.append(
                ContainmentRow(
                    key=k,
                    topic=ENTRY_TOPICS.get(k, UNKNOWN_TOPIC) if by == "entry" else k,
                    calls=len(calls),
                    contained=contained,
                    contained_share=share(contained, len(calls)),
                    contained_no_repeat=clean,
                    contained_no_repeat_share=share(clean, len(calls)),
                    to_person=sum(1 for c in calls if c["outcome"] in PERSON_OUTCOMES),
                    repeated=sum(1 for c in calls if rep[c["call_id"]]),
                )
            )
        rows.sort(key=lambda r: (-r.calls, r.key))
        return rows

    def repeats(self, window_days: int) -> dict[str, Any]:
        """Totals, per topic, and per caller (caller -> (calls, repeated, topics))."""
        rep = self.repeated(window_days)
        known = [c for c in self.calls if c["caller"].lower() not in ANONYMOUS_CALLERS]
        by_topic: dict[str, int] = defaultdict(int)
        callers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in known:
            callers[c["caller"]].append(c)
            if rep[c["call_id"]]:
                for t in self.topics(c):
                    by_topic[t] += 1
        per_caller = {}
        for caller, calls in callers.items():
            n = sum(1 for c in calls if rep[c["call_id"]])
            if n:
                topics: set[str] = set()
                for c in self.calls:
                    if c["caller"] == caller:
                        topics |= self.topics(c)
                per_caller[caller] = (len(calls), n, tuple(sorted(topics)))
        return {
            "calls": len(known),
            "repeated": sum(1 for c in known if rep[c["call_id"]]),
            "by_topic": dict(by_topic),
            "callers": per_caller,
        }

    def lost(self) -> list[LostCall]:
        """Lost calls, newest first, with their recovery."""
        reasons = {
            "abandoned": "abandoned_in_queue",
            "after_hours": "after_hours",
            "failed": "technical_failure",
            "protocol_error": "technical_failure",
        }
        out = []
        for c in self.calls:
            reason = reasons.get(c["outcome"] or "")
            if c["outcome"] == "caller_hung_up":
                reason = "hung_up_before_answer" if c["answered_at"] is None else "hung_up_on_bot"
            if c["outcome"] == "callback_requested":
                states = {cb["state"] for cb in self.m.callbacks if cb["call_id"] == c["call_id"]}
                if states & {"failed", "cancelled"} and "done" not in states:
                    reason = "callback_not_made"
            if reason is None:
                continue
            assert reason in LOST_REASONS
            callable_ = c["caller"].lower() not in ANONYMOUS_CALLERS
            by: str | None = None
            at: datetime | None = None
            if callable_:
                later = [
                    o["started_at"]
                    for o in self.m.calls
                    if o["caller"] == c["caller"]
                    and o["started_at"] > c["started_at"]
                    and o["outcome"] in SERVED_OUTCOMES
                ]
                cbs = [
                    cb["closed_at"]
                    for cb in self.m.callbacks
                    if cb["caller"] == c["caller"]
                    and cb["state"] == "done"
                    and cb["closed_at"] > c["started_at"]
                ]
                first_call, first_cb = min(later, default=None), min(cbs, default=None)
                if first_call is not None and (first_cb is None or first_call <= first_cb):
                    by, at = "call", first_call
                elif first_cb is not None:
                    by, at = "callback", first_cb
            out.append(
                LostCall(
                    c["call_id"],
                    c["caller"],
                    c["started_at"],
                    reason,
                    c["escalation_topic"],
                    callable_,
                    by,
                    at,
                )
            )
        out.sort(key=lambda x: (x.started_at, x.call_id), reverse=True)
        return out

    def demand(self) -> list[tuple[int, int, float, int, float | None]]:
        """Per hour: (hour, offered, arrivals per hour, handled, mean handle s)."""
        rows = []
        for h in range(24):
            es = [e for e in self.entries if e["enqueued_at"].astimezone(ZONE).hour == h]
            handles = [seconds(e["closed_at"], e["taken_at"]) for e in es if e["state"] == "closed"]
            mean = sum(handles) / len(handles) if handles else None
            rows.append((h, len(es), len(es) / 31, len(handles), mean))
        return rows

    def ratings(self) -> Ratings:
        """Post-call ratings of the period's calls, overall and per topic."""
        rated = [c for c in self.calls if c["rating"] is not None]

        def split(calls: Sequence[Mapping[str, Any]]) -> dict[str, int]:
            return {v: sum(1 for c in calls if str(c["rating"]) == v) for v in RATING_VALUES}

        def mean(calls: Sequence[Mapping[str, Any]]) -> float | None:
            return sum(c["rating"] for c in calls) / len(calls) if calls else None

        per_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in rated:
            for t in self.topics(c):
                per_topic[t].append(c)
        rows = sorted(
            (RatingRow(t, len(cs), mean(cs), split(cs)) for t, cs in per_topic.items()),
            key=lambda r: (-r.rated, r.topic),
        )
        resolved = sum(1 for c in self.calls if c["outcome"] == "resolved_by_bot")
        return Ratings(
            calls=len(self.calls),
            resolved_by_bot=resolved,
            rated=len(rated),
            rated_share=share(len(rated), len(self.calls)),
            rated_share_resolved=share(len(rated), resolved),
            mean=mean(rated),
            distribution=split(rated),
            rows=tuple(rows),
        )
