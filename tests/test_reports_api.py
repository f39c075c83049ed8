"""The reports API over HTTP (httpx against uvicorn on loopback): the console and reports routers
on a temp SQLite file holding the generated month (tests/data_month.py). JSON equals
`to_json(Reports...)`, CSV equals `csv_rows`, staffing and lost revenue match independent
figures, only supervisors and admins get in, and bad periods get a Russian 422.

`reports_server` is shared with tests/test_reports_page.py (Playwright).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import data_month as dm
import httpx
import pytest
from bridge_server import serving
from fastapi import FastAPI
from fastapi.routing import APIRoute
from test_console_api import CHEAP, ConsoleServer, FakeClock

from telephony_bridge.console import ConsoleSettings, console_router
from telephony_bridge.console.ports import OUTCOME_TITLES
from telephony_bridge.console.reports import (
    EXTRA_OUTCOME_TITLES,
    LOST_REASON_TITLES,
    REPORTS,
    ReportSettings,
    reports_router,
)
from voicebot.reports import IN_PROGRESS, LOST_REASONS, Reports, csv_rows, to_json
from voicebot.reports.planning import staffing
from voicebot.staffing import ServiceTarget, staff_hour
from voicebot.store import CallStore
from voicebot.store.calls import OUTCOMES
from voicebot.store.queue import QueueStore
from voicebot.store.users import UserStore

MARCH = {"since": "2025-03-01", "until": "2025-04-01", "tz": dm.TZ}
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


@dataclass
class ReportsServer:
    """The console with the reports router, over the generated month."""

    console: ConsoleServer
    reports: Reports
    month: dm.Month
    expected: dm.Expected

    @property
    def base(self) -> str:
        """The server's origin."""
        return self.console.base


@contextmanager
def reports_server(tmp_path: Path) -> Iterator[ReportsServer]:
    """Both routers in one FastAPI app in uvicorn; the month written to a temp SQLite file."""
    url = f"sqlite:///{tmp_path / 'reports.db'}"
    month = dm.generate(7)
    dm.write(month, url)
    calls = CallStore(url)
    queue = QueueStore(url, migrate=False)
    users = UserStore(url, migrate=False, scrypt=CHEAP)
    reports = Reports(url, entry_topics=dm.ENTRY_TOPICS)
    clock = FakeClock()
    settings = ConsoleSettings(heartbeat_s=1.0)
    app = FastAPI()
    router = console_router(users, queue, calls, clock=clock, settings=settings)
    app.include_router(router)
    app.include_router(
        reports_router(
            reports, users, clock=clock, settings=ReportSettings(), console_settings=settings
        )
    )
    with serving(app) as port:
        console = ConsoleServer(
            f"http://127.0.0.1:{port}", url, users, queue, calls, clock, app, router
        )
        try:
            yield ReportsServer(console, reports, month, dm.Expected(month))
        finally:
            reports.close()
            for store in (users, queue, calls):
                store.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportsServer]:
    with reports_server(tmp_path_factory.mktemp("reports_api")) as server:
        yield server


@pytest.fixture(scope="module")
def boss(srv: ReportsServer) -> Iterator[httpx.Client]:
    """A signed-in supervisor."""
    with srv.console.client(srv.console.user("supervisor")) as client:
        yield client


def test_the_router_has_the_page_the_api_and_its_script() -> None:
    router = reports_router(Reports("sqlite://"), UserStore("sqlite://"), clock=FakeClock())
    paths = {(m, r.path) for r in router.routes if isinstance(r, APIRoute) for m in r.methods or ()}
    assert paths == {
        ("GET", "/console/reports"),
        ("GET", "/console/reports/api/{name}"),
        ("GET", "/console/reports/static/reports.js"),
    }


def test_every_outcome_and_lost_reason_has_a_russian_title() -> None:
    titles = dict(OUTCOME_TITLES) | dict(EXTRA_OUTCOME_TITLES)
    assert set(titles) == {*OUTCOMES, IN_PROGRESS}
    assert set(LOST_REASON_TITLES) == set(LOST_REASONS)
    assert all(CYRILLIC.search(t) for t in [*titles.values(), *LOST_REASON_TITLES.values()])


# --- JSON and CSV equal the reports ------------------------------------------------------------


def _direct(r: Reports, name: str) -> Any:
    """The report as the API should compute it with the default options."""
    s, u, tz = dm.SINCE, dm.UNTIL, dm.TZ
    limit = ReportSettings().list_limit
    calls: dict[str, Any] = {
        "calls_per_hour": lambda: r.calls_per_hour(s, u, tz),
        "calls_per_day": lambda: r.calls_per_day(s, u, tz),
        "outcomes": lambda: r.outcomes(s, u),
        "answer_times": lambda: r.answer_times(s, u),
        "wait_by_hour": lambda: r.wait_by_hour(s, u, tz),
        "talk_durations": lambda: r.talk_durations(s, u),
        "operator_load": lambda: r.operator_load(s, u),
        "containment_by_entry": lambda: r.containment_by_entry(s, u),
        "containment_by_topic": lambda: r.containment_by_topic(s, u),
        "repeat_calls": lambda: r.repeat_calls(s, u, limit=limit),
        "lost_calls": lambda: r.lost_calls(s, u, limit=limit),
        "ratings": lambda: r.ratings(s, u),
        "demand_by_hour": lambda: r.demand_by_hour(s, u, tz),
    }
    return calls[name]()


DIRECT = [n for n in REPORTS if n not in ("staffing", "lost_revenue")]


@pytest.mark.parametrize("name", DIRECT)
def test_json_is_the_report(srv: ReportsServer, boss: httpx.Client, name: str) -> None:
    reply = boss.get(f"/console/reports/api/{name}", params=MARCH)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json() == to_json(_direct(srv.reports, name))


def test_the_numbers_are_the_months_independent_ones(
    srv: ReportsServer, boss: httpx.Client
) -> None:
    """Not only equal to Reports: equal to the generator's own records."""
    outcomes = boss.get("/console/reports/api/outcomes", params=MARCH).json()
    assert outcomes == to_json(srv.expected.outcomes())
    ratings = boss.get("/console/reports/api/ratings", params=MARCH).json()
    wanted = to_json(srv.expected.ratings())
    assert ratings["distribution"] == wanted["distribution"] and ratings["rated"] > 0
    assert math.isclose(ratings["mean"], wanted["mean"])
    lost = boss.get("/console/reports/api/lost_calls", params=MARCH | {"limit": "3"}).json()
    assert lost["total"] == len(srv.expected.lost()) and len(lost["rows"]) == 3


def test_an_offset_time_is_the_same_period_as_local_dates(boss: httpx.Client) -> None:
    day = {"since": "2025-03-12", "until": "2025-03-13", "tz": dm.TZ}
    by_date = boss.get("/console/reports/api/calls_per_hour", params=day).json()
    # a "+" sent unencoded in the query string arrives as a space
    raw = "since=2025-03-12T00:00:00+03:00&until=2025-03-12T21:00:00Z&tz=Europe/Moscow"
    by_time = boss.get(f"/console/reports/api/calls_per_hour?{raw}").json()
    assert by_time == by_date and len(by_date["rows"]) == 24
    utc_day = boss.get("/console/reports/api/calls_per_hour", params=day | {"tz": "UTC"}).json()
    assert utc_day["rows"][0]["bucket"] == "2025-03-12 00"
    assert utc_day["rows"] != by_date["rows"]


def test_csv_has_the_reports_header_and_rows(srv: ReportsServer, boss: httpx.Client) -> None:
    reply = boss.get("/console/reports/api/wait_by_hour.csv", params=MARCH)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert reply.headers["content-disposition"] == (
        'attachment; filename="wait_by_hour_2025-03-01.csv"'
    )
    assert reply.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    wanted = csv_rows(srv.reports.wait_by_hour(dm.SINCE, dm.UNTIL, dm.TZ))
    assert table[0][:3] == ["hour", "hours_observed", "offered"] and len(table) == 25
    assert table == [[str(v) for v in row] for row in wanted]
    lost = boss.get("/console/reports/api/lost_calls.csv", params=MARCH | {"limit": "100000"})
    rows = list(csv.DictReader(io.StringIO(lost.content.decode("utf-8-sig"))))
    assert len(rows) == len(srv.expected.lost())
    assert {r["reason"] for r in rows} == set(LOST_REASONS)
    summary = list(
        csv.reader(
            io.StringIO(
                boss.get("/console/reports/api/answer_times.csv", params=MARCH).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert summary[0] == ["name", "value"] and summary[1][0] == "bot.count"


# --- staffing and lost revenue -----------------------------------------------------------------


def test_staffing_follows_the_target(srv: ReportsServer, boss: httpx.Client) -> None:
    target = {"answer_within_s": "30", "share_pct": "90", "shrinkage_pct": "25"}
    reply = boss.get("/console/reports/api/staffing", params=MARCH | target)
    assert reply.status_code == 200, reply.text
    got = reply.json()
    demand = srv.reports.demand_by_hour(dm.SINCE, dm.UNTIL, dm.TZ)
    assert got == to_json(staffing(demand, ServiceTarget(30.0, 0.9, 0.25)))
    # independently: the peak hour from the generator's records through Erlang C
    hour, offered, rate, _, mean = max(srv.expected.demand(), key=lambda d: d[2])
    assert mean is not None
    alone = staff_hour(hour, offered / 31, mean, ServiceTarget(30.0, 0.9, 0.25))
    row = got["rows"][hour]
    assert (row["agents"], row["scheduled"]) == (alone.agents, alone.scheduled)
    assert math.isclose(row["arrivals_per_hour"], rate) and alone.agents >= 2
    assert row["service_level"] >= 0.9
    stricter = boss.get(
        "/console/reports/api/staffing",
        params=MARCH | target | {"answer_within_s": "5", "share_pct": "98"},
    ).json()
    assert stricter["rows"][hour]["agents"] > row["agents"]
    csv_reply = boss.get("/console/reports/api/staffing.csv", params=MARCH | target)
    header = next(csv.reader(io.StringIO(csv_reply.content.decode("utf-8-sig"))))
    assert header[:3] == ["hour", "hours_observed", "offered"] and "agents" in header


def test_lost_revenue_is_lost_calls_times_conversion_times_deal(
    srv: ReportsServer, boss: httpx.Client
) -> None:
    lost = srv.expected.lost()
    not_reached = sum(1 for c in lost if c.recovered_by is None)
    params = MARCH | {"conversion_pct": "12,5", "deal_value": "8000"}
    got = boss.get("/console/reports/api/lost_revenue", params=params).json()
    assert (got["lost_calls"], got["lost_total"]) == (not_reached, len(lost))
    assert math.isclose(got["lost_revenue"], not_reached * 0.125 * 8000)
    every = boss.get(
        "/console/reports/api/lost_revenue", params=params | {"counted": "total"}
    ).json()
    assert math.isclose(every["lost_revenue"], len(lost) * 0.125 * 8000)


# --- who may -----------------------------------------------------------------------------------


def test_only_supervisors_and_admins_get_in(srv: ReportsServer) -> None:
    with srv.console.client() as anonymous:
        assert anonymous.get("/console/reports", follow_redirects=False).status_code == 303
        reply = anonymous.get("/console/reports/api/outcomes", params=MARCH)
        assert reply.status_code == 401
    with srv.console.client(srv.console.user("operator")) as operator:
        page = operator.get("/console/reports")
        assert page.status_code == 403
        assert "Доступ запрещён" in page.text and "Ваша роль — «оператор»" in page.text
        assert "/console/reports" not in page.text  # no nav link either
        for path in ("/console/reports/api/outcomes", "/console/reports/api/outcomes.csv"):
            reply = operator.get(path, params=MARCH)
            assert reply.status_code == 403
            assert "Доступ запрещён" in reply.json()["error"]
    for role in ("supervisor", "admin"):
        with srv.console.client(srv.console.user(role)) as client:
            page = client.get("/console/reports")
            assert page.status_code == 200, page.text
            assert 'href="/console/reports" aria-current="page">Отчёты' in page.text
            assert page.headers["content-security-policy"].startswith("default-src 'self'")
            assert client.get("/console/reports/api/ratings", params=MARCH).status_code == 200
            script = client.get("/console/reports/static/reports.js")
            assert script.status_code == 200 and "text/javascript" in script.headers["content-type"]


# --- bad requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"since": "2025-03-10", "until": "2025-03-10"}, "раньше"),
        ({"since": "2025-03-10", "until": "2025-03-01"}, "раньше"),
        ({"since": "2025-03-01T00:00:00", "until": "2025-03-02"}, "без часового пояса"),
        ({"since": "вчера", "until": "2025-03-02"}, "Не удалось разобрать"),
        ({"since": "2025-02-30", "until": "2025-03-02"}, "Не удалось разобрать"),
        ({"since": "2025-03-01", "until": "2025-03-02", "tz": "Mars/Olympus"}, "часовой пояс"),
        ({"since": "2025-03-01", "until": "2025-03-02", "tz": "../etc"}, "часовой пояс"),
        ({"since": "2025-03-01"}, "Укажите период"),
        ({"since": "2020-01-01", "until": "2025-03-02"}, "длиннее"),
        ({"since": "2025-03-01", "until": "2025-03-02", "window_days": "0"}, "window_days"),
        ({"since": "2025-03-01", "until": "2025-03-02", "limit": "много"}, "не число"),
    ],
)
def test_a_bad_period_is_a_russian_422(
    boss: httpx.Client, params: dict[str, str], words: str
) -> None:
    name = "repeat_calls" if "window_days" in params or "limit" in params else "calls_per_day"
    reply = boss.get(f"/console/reports/api/{name}", params=params)
    assert reply.status_code == 422, reply.text
    message = reply.json()["error"]
    assert words in message and CYRILLIC.search(message)


@pytest.mark.parametrize(
    "params",
    [
        {"share_pct": "100"},
        {"shrinkage_pct": "-1"},
        {"answer_within_s": "nan"},
        {"conversion_pct": "150"},
        {"counted": "всех"},
    ],
)
def test_bad_staffing_and_revenue_inputs_are_422(
    boss: httpx.Client, params: dict[str, str]
) -> None:
    staffing_inputs = ("share_pct", "shrinkage_pct", "answer_within_s")
    name = "staffing" if any(k in params for k in staffing_inputs) else "lost_revenue"
    reply = boss.get(f"/console/reports/api/{name}", params=MARCH | params)
    assert reply.status_code == 422 and CYRILLIC.search(reply.json()["error"]), reply.text


def test_an_unknown_report_is_404(boss: httpx.Client) -> None:
    reply = boss.get("/console/reports/api/passwords", params=MARCH)
    assert reply.status_code == 404 and "Нет такого отчёта" in reply.json()["error"]
