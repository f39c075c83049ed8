"""Every report on a generated month of calls against values computed independently in Python
(tests/data_month.py), on a temp SQLite file and on the local PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import data_month as dm
import pytest

from voicebot.reports import (
    LOST_REASONS,
    UNKNOWN_TOPIC,
    ContainmentRow,
    Reports,
    Stats,
    csv_rows,
    to_csv,
    to_json,
)

pytest_plugins = (f"{__package__}.db" if __package__ else "db",)

WINDOW = 7


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


@pytest.fixture(scope="module")
def month() -> dm.Month:
    """The generated month (seed 7)."""
    return dm.generate(7)


@pytest.fixture(scope="module")
def expected(month: dm.Month) -> dm.Expected:
    """The independent values."""
    return dm.Expected(month)


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def reports(
    request: pytest.FixtureRequest, month: dm.Month, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reports]:
    """Reports over the month written to each backend."""
    from db import throwaway_postgres_schema  # the plugin module, once pytest has loaded it

    if request.param == "sqlite":
        url = _sqlite_url(tmp_path_factory.mktemp("reports") / "month.db")
        dm.write(month, url)
        with Reports(url, entry_topics=dm.ENTRY_TOPICS) as r:
            yield r
        return
    database = request.getfixturevalue("postgres_database")
    with throwaway_postgres_schema(database) as url:
        dm.write(month, url)
        with Reports(url, entry_topics=dm.ENTRY_TOPICS) as r:
            yield r


def same(actual: Any, wanted: Any, path: str = "") -> None:
    """Equal JSON trees; floats within 2 ms (SQLite date arithmetic keeps milliseconds)."""
    if isinstance(wanted, float) or isinstance(actual, float):
        assert actual is not None and wanted is not None, f"{path}: {actual!r} != {wanted!r}"
        assert math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=2e-3), (
            f"{path}: {actual!r} != {wanted!r}"
        )
    elif isinstance(wanted, dict):
        assert isinstance(actual, dict) and actual.keys() == wanted.keys(), (
            f"{path}: keys {sorted(actual)} != {sorted(wanted)}"
        )
        for k in wanted:
            same(actual[k], wanted[k], f"{path}.{k}")
    elif isinstance(wanted, list):
        assert isinstance(actual, list) and len(actual) == len(wanted), f"{path}: length"
        for i, (a, w) in enumerate(zip(actual, wanted, strict=True)):
            same(a, w, f"{path}[{i}]")
    else:
        assert actual == wanted, f"{path}: {actual!r} != {wanted!r}"


def test_the_month_has_what_the_reports_need(month: dm.Month, expected: dm.Expected) -> None:
    """The data exercises every outcome, queue state and lost reason (else the tests prove little)."""
    split = expected.outcomes()
    assert 2500 < split.calls < 5000
    assert all(n > 0 for n in split.by_outcome.values()), split.by_outcome
    assert all(n > 0 for s, n in split.queue_by_state.items() if s != "waiting")
    assert all(n > 0 for n in split.callbacks_by_state.values()), split.callbacks_by_state
    reasons = {c.reason for c in expected.lost()}
    assert reasons == set(LOST_REASONS)
    assert split.escalated_direct > 0 and split.escalated_answered > 0
    waits = expected.wait_by_hour()
    assert waits[11].taken_wait.mean is not None and waits[9].taken_wait.mean is not None
    assert waits[11].taken_wait.mean > waits[9].taken_wait.mean  # waits grow at the peak


def test_calls_per_day_and_hour(reports: Reports, expected: dm.Expected) -> None:
    """Every local day and hour of March, by outcome; Berlin crosses its DST change."""
    days = reports.calls_per_day(dm.SINCE, dm.UNTIL, dm.TZ)
    assert len(days.rows) == 31 and days.rows[0].bucket == "2025-03-01"
    same(to_json(days.rows), to_json(expected.volume("day", dm.TZ)))
    hours = reports.calls_per_hour(dm.SINCE, dm.UNTIL, dm.TZ)
    assert len(hours.rows) == 31 * 24
    same(to_json(hours.rows), to_json(expected.volume("hour", dm.TZ)))
    berlin = reports.calls_per_hour(dm.SINCE, dm.UNTIL, "Europe/Berlin")
    wanted = expected.volume("hour", "Europe/Berlin")
    assert "2025-03-30 02" not in [r.bucket for r in wanted]  # skipped by the clocks
    same(to_json(berlin.rows), to_json(wanted))
    berlin_days = reports.calls_per_day(dm.SINCE, dm.UNTIL, "Europe/Berlin")
    same(to_json(berlin_days.rows), to_json(expected.volume("day", "Europe/Berlin")))


def test_outcome_split(reports: Reports, expected: dm.Expected) -> None:
    """Outcomes, escalations answered or direct, queue and callback states."""
    same(to_json(reports.outcomes(dm.SINCE, dm.UNTIL)), to_json(expected.outcomes()))


def test_answer_times(reports: Reports, expected: dm.Expected) -> None:
    """Bot and operator time to answer with p50/p95, and the 20 s service level."""
    actual = reports.answer_times(dm.SINCE, dm.UNTIL)
    same(to_json(actual), to_json(expected.answer_times()))
    assert actual.operator.p95 is not None and actual.operator.p50 is not None
    assert actual.operator.p95 > actual.operator.p50 > 0


def test_wait_by_hour(reports: Reports, expected: dm.Expected) -> None:
    """Waits per local hour of the day: counts, percentiles, service level, histogram."""
    actual = reports.wait_by_hour(dm.SINCE, dm.UNTIL, dm.TZ)
    same(to_json(actual.rows), to_json(expected.wait_by_hour()))


def test_talk_durations(reports: Reports, expected: dm.Expected) -> None:
    """Call durations overall and per outcome; operator handle times."""
    same(to_json(reports.talk_durations(dm.SINCE, dm.UNTIL)), to_json(expected.talk()))


def test_operator_load(reports: Reports, expected: dm.Expected) -> None:
    """Per operator (the supervisor is not listed)."""
    actual = reports.operator_load(dm.SINCE, dm.UNTIL)
    same(to_json(actual.rows), to_json(expected.operator_load()))
    assert all(0 < r.busy_share < 1 for r in actual.rows)


@pytest.mark.parametrize("by", ["entry", "topic"])
def test_containment(reports: Reports, expected: dm.Expected, by: str) -> None:
    """Containment per FAQ entry and per topic, with and without a repeat call."""
    method = reports.containment_by_entry if by == "entry" else reports.containment_by_topic
    actual = method(dm.SINCE, dm.UNTIL, window_days=WINDOW)
    same(to_json(actual.rows), to_json(expected.containment(by, WINDOW)))
    keys = {r.key for r in actual.rows}
    assert ("old-entry" in keys) if by == "entry" else (UNKNOWN_TOPIC in keys)


def test_repeat_calls(reports: Reports, expected: dm.Expected) -> None:
    """Calls followed by another from the same number within 7 days, per topic and caller."""
    actual = reports.repeat_calls(dm.SINCE, dm.UNTIL, window_days=WINDOW, limit=None)
    wanted = expected.repeats(WINDOW)
    assert (actual.calls, actual.repeated) == (wanted["calls"], wanted["repeated"])
    assert dict(actual.by_topic) == wanted["by_topic"]
    assert {r.caller: (r.calls, r.repeated, r.topics) for r in actual.rows} == wanted["callers"]
    repeats = [r.repeated for r in actual.rows]
    assert repeats == sorted(repeats, reverse=True)
    top = reports.repeat_calls(dm.SINCE, dm.UNTIL, window_days=WINDOW, limit=5)
    assert top.rows == actual.rows[:5]
    one_day = reports.repeat_calls(dm.SINCE, dm.UNTIL, window_days=1, limit=None)
    assert one_day.repeated == expected.repeats(1)["repeated"] < actual.repeated


def test_lost_calls(reports: Reports, expected: dm.Expected) -> None:
    """Lost calls with numbers, reasons and recovery by a later call or a callback."""
    actual = reports.lost_calls(dm.SINCE, dm.UNTIL)
    wanted = expected.lost()
    same(to_json(actual.rows), to_json(wanted))
    assert actual.total == len(wanted)
    assert sum(actual.by_reason.values()) == actual.total
    assert actual.recovered_by_call > 0 and actual.recovered_by_callback > 0
    assert actual.not_recovered == sum(1 for c in wanted if c.recovered_by is None)
    to_call = {c.caller for c in wanted if c.callable and c.recovered_by is None}
    assert actual.callers_to_call_back == len(to_call)
    assert reports.lost_calls(dm.SINCE, dm.UNTIL, limit=10).rows == actual.rows[:10]


def test_ratings(reports: Reports, expected: dm.Expected) -> None:
    """Post-call ratings: distribution, mean, share of calls rated, per topic."""
    actual = reports.ratings(dm.SINCE, dm.UNTIL)
    wanted = expected.ratings()
    same(to_json(actual), to_json(wanted))
    assert 0 < actual.rated < actual.resolved_by_bot < actual.calls
    assert all(n > 0 for n in actual.distribution.values())
    billing = next(r for r in actual.rows if r.topic == "billing")
    assert billing.mean is not None and actual.mean is not None and billing.mean < actual.mean
    empty = reports.ratings(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC))
    assert (empty.rated, empty.mean, empty.rated_share, empty.rows) == (0, None, None, ())


def test_demand_by_hour(reports: Reports, expected: dm.Expected) -> None:
    """Queue arrivals per hour and mean handle time, the staffing input."""
    actual = reports.demand_by_hour(dm.SINCE, dm.UNTIL, dm.TZ)
    got = [
        (r.hour, r.offered, r.arrivals_per_hour, r.handled, r.mean_handle_s) for r in actual.rows
    ]
    same(to_json(got), to_json(expected.demand()))
    assert all(r.hours_observed == 31 for r in actual.rows)


def test_a_narrow_period_and_an_empty_one(reports: Reports, expected: dm.Expected) -> None:
    """One local day in Moscow; a period before any call gives zeros and no percentiles."""
    day0 = datetime(2025, 3, 12, tzinfo=dm.ZONE)
    day = reports.calls_per_hour(day0, day0 + timedelta(days=1), dm.TZ)
    assert [r.bucket for r in day.rows] == [f"2025-03-12 {h:02d}" for h in range(24)]
    wanted = [r for r in expected.volume("hour", dm.TZ) if r.bucket.startswith("2025-03-12")]
    same(to_json(day.rows), to_json(wanted))
    empty_since = datetime(2020, 1, 1, tzinfo=UTC)
    empty_until = empty_since + timedelta(days=3)
    times = reports.answer_times(empty_since, empty_until)
    assert times.bot == Stats(0, 0.0, None, None, None, None) and times.service_level is None
    assert reports.outcomes(empty_since, empty_until).calls == 0
    assert reports.lost_calls(empty_since, empty_until).rows == ()
    assert reports.containment_by_topic(empty_since, empty_until).rows == ()


def test_json_and_csv_export(reports: Reports) -> None:
    """Reports serialise to JSON and CSV: tables as rows, summaries as name/value pairs."""
    waits = reports.wait_by_hour(dm.SINCE, dm.UNTIL, dm.TZ)
    json.dumps(to_json(waits))
    table = list(csv.reader(io.StringIO(to_csv(waits))))
    assert table[0][:3] == ["hour", "hours_observed", "offered"]
    assert "taken_wait.p95" in table[0] and "histogram.300+" in table[0]
    assert len(table) == 25
    summary = csv_rows(reports.answer_times(dm.SINCE, dm.UNTIL))
    assert summary[0] == ["name", "value"] and ["bot.count", summary[1][1]] == summary[1]
    lost = to_json(reports.lost_calls(dm.SINCE, dm.UNTIL, limit=1))
    assert datetime.fromisoformat(lost["rows"][0]["started_at"]).tzinfo is not None
    ratings = csv_rows(reports.ratings(dm.SINCE, dm.UNTIL))
    assert ratings[0] == ["topic", "rated", "mean", *(f"distribution.{v}" for v in "12345")]
    empty = csv_rows(
        reports.containment_by_topic(
            datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)
        )
    )
    assert empty == [[f.name for f in fields(ContainmentRow)]]
    no_waits = csv_rows(reports.wait_by_hour(dm.SINCE, dm.SINCE, dm.TZ))
    assert no_waits[0][:3] == ["hour", "hours_observed", "offered"]


def test_naive_datetimes_and_unknown_zones_are_refused(reports: Reports) -> None:
    """The period must be aware; the zone must exist."""
    with pytest.raises(ValueError, match="timezone-aware"):
        reports.outcomes(datetime(2025, 3, 1), dm.UNTIL)
    with pytest.raises(KeyError, match="Mars"):
        reports.calls_per_day(dm.SINCE, dm.UNTIL, "Mars/Olympus")


def test_an_empty_database(tmp_path: Path) -> None:
    """Reports over an empty migrated database: every report answers with zeros."""
    url = _sqlite_url(tmp_path / "empty.db")
    dm.write(dm.Month(operators=[]), url)
    with Reports(url) as r:
        assert r.operator_load(dm.SINCE, dm.UNTIL).rows == ()
        assert all(row.calls == 0 for row in r.calls_per_day(dm.SINCE, dm.UNTIL, dm.TZ).rows)
