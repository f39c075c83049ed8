"""Report query time on one million calls, in SQLite and PostgreSQL.

Run from the repository root:  .venv/bin/python bench/reports.py [--calls N] [--skip-postgres]

Generates N calls over a year (arrivals peaking at 10-12 and 14-16 Moscow time, ~4 turns per
call, a queue entry for ~22 % of calls, a callback for ~4 %), loads them into a temp SQLite file
(executemany on the migrated schema) and a throw-away PostgreSQL database (COPY), then times
every report of voicebot.reports over the last month and over the whole year: first on the
schema as migrated, then with the indexes proposed in PROPOSED_INDEXES. PostgreSQL is the local
server (VOICEBOT_TEST_POSTGRES_URL, as in tests/db.py); its database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from voicebot.reports import Reports
from voicebot.store.migrations import migrate
from voicebot.store.schema import make_engine

TZ = "Europe/Moscow"
ZONE = ZoneInfo(TZ)
START = datetime(2025, 1, 1, tzinfo=ZONE).astimezone(UTC)
END = datetime(2026, 1, 1, tzinfo=ZONE).astimezone(UTC)
MONTH = (datetime(2025, 11, 1, tzinfo=ZONE).astimezone(UTC), datetime(2025, 12, 1, tzinfo=ZONE))
HOURLY = np.array(
    [1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 2, 5, 9, 13, 14, 10, 9, 12, 13, 10, 8, 6, 4, 3, 2, 2, 1]
)
ENTRIES = [f"e{i:03d}" for i in range(120)]
ENTRY_TOPICS = {e: f"topic{i % 12}" for i, e in enumerate(ENTRIES)}
OPERATORS = [f"op{i:02d}" for i in range(40)]
ADMIN_URL = os.environ.get(
    "VOICEBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PROPOSED_INDEXES = (
    "CREATE INDEX ix_queue_entries_enqueued_at ON queue_entries (enqueued_at)",
    "CREATE INDEX ix_queue_entries_taken_at ON queue_entries (taken_at)",
    "CREATE INDEX ix_callbacks_requested_at ON callbacks (requested_at)",
    "CREATE INDEX ix_callbacks_call_id ON callbacks (call_id)",
    "CREATE INDEX ix_callbacks_caller_closed_at ON callbacks (caller, closed_at)",
)
CALL_COLUMNS = (
    "call_id, caller, called, codec, sample_rate, started_at, answered_at, ended_at, outcome, "
    "end_reason, escalation_topic, metadata"
)
TURN_COLUMNS = "call_id, seq, role, text, kind, started_at, entry_id, alternatives, interrupted"
ENTRY_COLUMNS = (
    "call_id, caller, topic, priority, priority_reasons, reason, card, state, enqueued_at, "
    "operator, taken_at, closed_at"
)
CALLBACK_COLUMNS = (
    "call_id, caller, topic, summary, requested_at, deadline, state, operator, closed_at, attempts"
)


def generate(n: int, seed: int = 1) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of calls, turns, queue entries and callbacks (aware datetimes, JSON as text)."""
    rng = np.random.default_rng(seed)
    days = (END - START).days
    hour = rng.choice(24, size=n, p=HOURLY / HOURLY.sum())
    day = rng.integers(0, days, size=n)
    offset = day * 86400.0 + hour * 3600.0 + rng.uniform(0, 3600, size=n)
    offset.sort()
    callers = rng.zipf(1.3, size=n) % 300_000
    kind = rng.choice(6, size=n, p=[0.55, 0.25, 0.07, 0.05, 0.04, 0.04])
    u = rng.uniform(size=(n, 6))
    rows: dict[str, list[tuple[Any, ...]]] = {
        "calls": [],
        "turns": [],
        "entries": [],
        "callbacks": [],
    }
    for i in range(n):
        start = START + timedelta(seconds=float(offset[i]))
        cid = f"c{i:07d}"
        caller = f"+7900{int(callers[i]):07d}"
        answered: datetime | None = start + timedelta(seconds=0.3 + 2.7 * u[i, 0])
        assert answered is not None
        turns: list[tuple[Any, ...]] = [(cid, 1, "bot", "hello", "greeting", answered, None)]
        t = answered + timedelta(seconds=4)
        k = int(kind[i])
        topic = None
        outcome = "resolved_by_bot"
        end = t
        if k in (0, 1):
            entry = ENTRIES[int(u[i, 1] * len(ENTRIES))]
            turns += [
                (cid, 2, "caller", "q", "utterance", t, None),
                (cid, 3, "bot", "a", "answer", t + timedelta(seconds=3), entry),
            ]
            end = t + timedelta(seconds=20)
        if k == 1:  # wants a person
            topic = ENTRY_TOPICS[str(turns[-1][6])]
            turns.append((cid, 4, "bot", "transfer", "transfer", end, None))
            local_hour = int(hour[i])
            if not 9 <= local_hour < 18:
                outcome = "after_hours" if u[i, 2] < 0.5 else "callback_requested"
                if outcome == "callback_requested":
                    rows["callbacks"].append(_callback(cid, caller, topic, end, u[i]))
            else:
                wait = 10 + 200 * u[i, 3] ** 2
                taken = end + timedelta(seconds=wait)
                if u[i, 4] < 0.8:
                    closed = taken + timedelta(seconds=60 + 300 * u[i, 5])
                    op = OPERATORS[int(u[i, 5] * len(OPERATORS))]
                    rows["entries"].append(
                        (
                            cid,
                            caller,
                            topic,
                            0,
                            "[]",
                            "caller_request",
                            "{}",
                            "closed",
                            end,
                            op,
                            taken,
                            closed,
                        )
                    )
                    outcome, end = "escalated", closed
                elif u[i, 4] < 0.93:
                    rows["entries"].append(
                        (
                            cid,
                            caller,
                            topic,
                            0,
                            "[]",
                            "caller_request",
                            "{}",
                            "abandoned",
                            end,
                            None,
                            None,
                            taken,
                        )
                    )
                    outcome, end = "abandoned", taken
                else:
                    rows["entries"].append(
                        (
                            cid,
                            caller,
                            topic,
                            0,
                            "[]",
                            "caller_request",
                            "{}",
                            "callback",
                            end,
                            None,
                            None,
                            taken,
                        )
                    )
                    rows["callbacks"].append(_callback(cid, caller, topic, taken, u[i]))
                    outcome, end = "callback_requested", taken
        elif k == 2:
            outcome = "caller_hung_up"
        elif k == 3:
            outcome = "no_input"
        elif k == 4:
            outcome = "caller_hung_up"
            answered = None
            turns = []
        elif k == 5:
            outcome = "failed"
        rows["calls"].append(
            (
                cid,
                caller,
                "88005553535",
                "pcmu",
                8000,
                start,
                answered,
                end,
                outcome,
                outcome,
                topic,
                "{}",
            )
        )
        rows["turns"] += [(*tt[:6], tt[6], "[]", False) for tt in turns]
    return rows


def _callback(cid: str, caller: str, topic: str, at: datetime, u: Any) -> tuple[Any, ...]:
    done = u[2] < 0.8
    closed = at + timedelta(hours=1 + 3 * float(u[3])) if done else None
    state = "done" if done else "open"
    op = OPERATORS[int(float(u[5]) * len(OPERATORS))] if done else None
    return (
        cid,
        caller,
        topic,
        "перезвонить",
        at,
        at + timedelta(hours=4),
        state,
        op,
        closed,
        1 if done else 0,
    )


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def load_sqlite(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """executemany through the DBAPI, timestamps in SQLAlchemy's SQLite text format."""
    migrate(url)
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("BEGIN")
        for table, columns, data in _tables(rows):
            marks = ", ".join("?" for _ in columns.split(","))
            cur.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                [[_sqlite_value(v) for v in r] for r in data],
            )
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()
        engine.dispose()


def load_postgres(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """COPY through psycopg 3."""
    migrate(url)
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, columns, data in _tables(rows):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for r in data:
                    copy.write_row(r)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def _tables(rows: dict[str, list[tuple[Any, ...]]]) -> Iterator[tuple[str, str, list[Any]]]:
    yield "calls", CALL_COLUMNS, rows["calls"]
    yield "turns", TURN_COLUMNS, rows["turns"]
    yield "queue_entries", ENTRY_COLUMNS, rows["entries"]
    yield "callbacks", CALLBACK_COLUMNS, rows["callbacks"]


def add_indexes(url: str) -> None:
    """Create PROPOSED_INDEXES (and refresh statistics)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for ddl in PROPOSED_INDEXES:
            conn.execute(text(ddl))
        conn.execute(text("ANALYZE"))
    engine.dispose()


def time_reports(url: str) -> dict[str, tuple[float, float]]:
    """report -> (seconds over the month, seconds over the year)."""
    out: dict[str, tuple[float, float]] = {}
    with Reports(url, entry_topics=ENTRY_TOPICS) as r:
        jobs: dict[str, Callable[[datetime, datetime], object]] = {
            "calls_per_day": lambda s, u: r.calls_per_day(s, u, TZ),
            "calls_per_hour": lambda s, u: r.calls_per_hour(s, u, TZ),
            "outcomes": r.outcomes,
            "answer_times": r.answer_times,
            "wait_by_hour": lambda s, u: r.wait_by_hour(s, u, TZ),
            "talk_durations": r.talk_durations,
            "operator_load": r.operator_load,
            "containment_by_entry": r.containment_by_entry,
            "containment_by_topic": r.containment_by_topic,
            "repeat_calls": r.repeat_calls,
            "lost_calls": r.lost_calls,
            "demand_by_hour": lambda s, u: r.demand_by_hour(s, u, TZ),
        }
        for name, job in jobs.items():
            times = []
            for since, until in (MONTH, (START, END)):
                t0 = time.perf_counter()
                job(since, until)
                times.append(time.perf_counter() - t0)
            out[name] = (times[0], times[1])
            print(f"  {name:22s} month {times[0]:7.3f} s   year {times[1]:7.3f} s", flush=True)
    return out


def main() -> None:
    """Generate, load, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = generate(args.calls)
    sizes = {k: len(v) for k, v in rows.items()}
    print(f"generated {sizes} in {time.perf_counter() - t0:.1f} s", flush=True)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        load_sqlite(url, rows)
        print(f"SQLite loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        print("SQLite, schema as migrated:")
        results["sqlite"] = time_reports(url)
        add_indexes(url)
        print("SQLite, with the proposed indexes:")
        results["sqlite+ix"] = time_reports(url)
    if not args.skip_postgres:
        name = f"voicebot_bench_{secrets.token_hex(4)}"
        admin = create_engine(ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            t0 = time.perf_counter()
            load_postgres(url, rows)
            print(f"PostgreSQL loaded in {time.perf_counter() - t0:.1f} s", flush=True)
            print("PostgreSQL, schema as migrated:")
            results["postgresql"] = time_reports(url)
            add_indexes(url)
            print("PostgreSQL, with the proposed indexes:")
            results["postgresql+ix"] = time_reports(url)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    names = list(next(iter(results.values())))
    print("\nseconds, month / year (" + ", ".join(f"{k}: {v}" for k, v in sizes.items()) + ")")
    print(f"{'report':22s}" + "".join(f"{k:>22s}" for k in results))
    for n in names:
        print(f"{n:22s}" + "".join(f"{r[n][0]:>10.3f} /{r[n][1]:>9.3f}" for r in results.values()))
    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, "results": results}, indent=1))


if __name__ == "__main__":
    main()
