"""The reports page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
over the generated month: charts drawn as SVG, the period changed, a CSV downloaded, the staffing
target and the conversion rate edited; an operator gets the 403 page. No CSP violations."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from pathlib import Path

import data_month as dm
import pytest
from console_browser import sign_in as sign_in_console
from playwright.sync_api import Browser, Page, expect
from test_reports_api import ReportsServer, reports_server

WAIT_MS = 8000


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportsServer]:
    with reports_server(tmp_path_factory.mktemp("reports_ui")) as server:
        yield server


def sign_in(browser: Browser, srv: ReportsServer, role: str, errors: list[str]) -> Page:
    """A fresh context signed in as a new user of `role`; console errors go to `errors`."""
    return sign_in_console(
        browser, srv.base, srv.console.user(role), errors, wait_ms=WAIT_MS, accept_downloads=True
    )


def loaded(page: Page, n: int) -> None:
    """Wait until the page finished its n-th load of reports."""
    expect(page.locator("#reports")).to_have_attribute("data-loaded", str(n))


def hours_with_calls(srv: ReportsServer, prefix: str) -> int:
    return sum(
        1 for r in srv.expected.volume("hour", dm.TZ) if r.bucket.startswith(prefix) and r.calls
    )


def test_a_supervisor_reads_the_reports(browser: Browser, srv: ReportsServer) -> None:
    errors: list[str] = []
    page = sign_in(browser, srv, "supervisor", errors)
    page.click("header.top a[href='/console/reports']")
    loaded(page, 1)  # the default: the last 7 days, which hold no calls
    expect(page.locator("#chart-hour rect.bar")).to_have_count(0)
    expect(page.locator("#lost-table")).to_contain_text("Потерянных звонков нет")

    # one day, from the address
    page.goto(f"{srv.base}/console/reports?since=2025-03-12&until=2025-03-13")
    loaded(page, 1)
    expect(page.locator("#period-title")).to_have_text(
        "Период: с 12.03.2025 по 12.03.2025 (Europe/Moscow)"
    )
    expect(page.locator("#chart-hour rect.bar")).to_have_count(hours_with_calls(srv, "2025-03-12"))
    expect(page.locator("#chart-day rect.bar")).to_have_count(1)
    expect(page.locator("#reports-error")).to_be_hidden()

    # the whole month, through the date inputs
    page.fill("#since", "2025-03-01")
    page.fill("#until", "2025-03-31")
    page.click("#apply")
    loaded(page, 2)
    expect(page).to_have_url(re.compile(r"since=2025-03-01&until=2025-04-01"))
    expect(page.locator("#chart-day rect.bar")).to_have_count(31)
    expect(page.locator("#chart-hour rect.bar")).to_have_count(hours_with_calls(srv, "2025-03"))
    expect(page.locator("#chart-wait rect.bar")).to_have_count(
        sum(1 for r in srv.expected.wait_by_hour() if r.taken_wait.p50)
    )
    expect(page.locator("#chart-ratings rect.bar")).to_have_count(5)
    outcomes = srv.expected.outcomes()
    expect(page.locator("#chart-outcomes rect.seg")).to_have_count(
        sum(1 for n in outcomes.by_outcome.values() if n)
    )
    total = page.locator("#outcome-extra tr").first.locator("td")
    expect(total.first).to_have_text("Всего звонков")
    assert re.sub(r"\D", "", total.nth(1).inner_text()) == str(outcomes.calls)

    # lost calls: callable, not reached ones first, as tel: links
    lost = srv.expected.lost()
    first = page.locator("#lost-table tbody tr").first
    expect(first).to_have_class("to-call")
    newest = next(c for c in lost if c.callable and c.recovered_by is None)
    expect(first.locator("a.tel")).to_have_attribute("href", f"tel:{newest.caller}")

    # a CSV download
    with page.expect_download() as download:
        page.click("#sec-wait a.csv")
    path = download.value.path()
    table = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert table[0][:3] == ["hour", "hours_observed", "offered"] and len(table) == 25
    assert download.value.suggested_filename == "wait_by_hour_2025-03-01.csv"

    # a stricter staffing target needs more operators at the peak
    peak = max(srv.expected.demand(), key=lambda d: d[2])[0]
    agents = page.locator(f"#staffing-table tr[data-hour='{peak}'] td.agents")
    before = int(agents.inner_text())
    page.fill("#answer-within", "5")
    loaded(page, 3)
    page.fill("#share", "98")
    loaded(page, 4)
    after = int(agents.inner_text())
    assert after > before >= 1
    assert "answer_within_s=5" in (page.get_attribute("#staffing-csv", "href") or "")

    # the conversion rate changes the lost revenue
    not_reached = sum(1 for c in lost if c.recovered_by is None)
    revenue = page.locator("#revenue")
    assert math.isclose(float(revenue.get_attribute("data-value") or "nan"), not_reached * 500)
    page.fill("#conversion", "20")
    loaded(page, 5)
    assert math.isclose(float(revenue.get_attribute("data-value") or "nan"), not_reached * 1000)
    expect(revenue).to_contain_text("упущенная выручка")

    # a bad period from the address: the API's Russian message
    page.goto(f"{srv.base}/console/reports?since=2025-03-12&until=2025-03-12")
    loaded(page, 1)
    expect(page.locator("#reports-error")).to_have_text(
        "Начало периода должно быть раньше его конца."
    )
    page.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_an_operator_gets_the_403_page(browser: Browser, srv: ReportsServer) -> None:
    errors: list[str] = []
    page = sign_in(browser, srv, "operator", errors)
    expect(page.locator("header.top a[href='/console/reports']")).to_have_count(0)
    reply = page.goto(f"{srv.base}/console/reports")
    assert reply is not None and reply.status == 403
    expect(page.locator("#forbidden-message")).to_contain_text("Доступ запрещён")
    expect(page.locator("#reports")).to_have_count(0)
    page.close()
