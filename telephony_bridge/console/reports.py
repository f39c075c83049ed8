"""Reports and analytics for supervisors (issue 7): a Russian page with charts and a JSON/CSV API.

Mount next to the console (both under /console, the same users and sessions):

    app.include_router(console_router(users, queue, calls, clock=clock, settings=console_settings))
    app.include_router(
        reports_router(reports, users, clock=clock, console_settings=console_settings)
    )

Routes (permission `reports`: supervisor and admin; operators get the console's 403 page / JSON):

    GET /console/reports                      the page (reports.html + static/reports.js)
    GET /console/reports/api/{name}           a report as JSON (voicebot.reports.to_json)
    GET /console/reports/api/{name}.csv       the same report as CSV (voicebot.reports.to_csv)
    GET /console/reports/static/reports.js    the page's script

Every API call takes `since` and `until` (the period [since, until)): a date `YYYY-MM-DD` (local
midnight in `tz`) or an ISO 8601 time with its UTC offset (`2025-03-01T00:00:00+03:00`); `tz` is
an IANA zone (default ReportSettings.tz). Report options: `window_days` (containment, repeats),
`target_s` (answer_times, wait_by_hour), `limit` (repeat_calls, lost_calls); staffing:
`answer_within_s`, `share_pct`, `shrinkage_pct`; lost_revenue: `conversion_pct`, `deal_value`,
`counted` (not_recovered | total). A bad value answers 422 {"error": <Russian message>}.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from telephony_bridge.console.guard import SECURITY_HEADERS, Guard, page_context
from telephony_bridge.console.ports import OUTCOME_TITLES, ConsoleSettings
from voicebot.reports import Reports, to_csv, to_json
from voicebot.reports.planning import LOST_COUNTS, LostCount, lost_revenue_estimate, staffing
from voicebot.staffing import ServiceTarget
from voicebot.store.users import UserStore
from voicebot.wait_estimate import DEFAULT_HANDLE_S

HERE = Path(__file__).resolve().parent
PREFIX: Final = "/console/reports"
# Outcomes the console's OUTCOME_TITLES does not name (it lists what an operator sees).
EXTRA_OUTCOME_TITLES: Final[Mapping[str, str]] = {
    "abandoned": "положил трубку в очереди",
    "callback_requested": "заказан обратный звонок",
    "after_hours": "звонок в нерабочее время",
    "in_progress": "ещё идёт",
}
LOST_REASON_TITLES: Final[Mapping[str, str]] = {
    "abandoned_in_queue": "положил трубку в очереди",
    "after_hours": "звонок в нерабочее время",
    "hung_up_before_answer": "положил трубку до ответа бота",
    "hung_up_on_bot": "положил трубку, говоря с ботом",
    "callback_not_made": "обратный звонок не состоялся",
    "technical_failure": "технический сбой",
}


class PeriodError(ValueError):
    """A request's period or option is unusable; the message is Russian, for the user."""


@dataclass(frozen=True)
class ReportSettings:
    """Defaults of the reports page and API."""

    tz: str = "Europe/Moscow"
    window_days: int = 7  # repeat-call window
    target_s: float = 20.0  # service level: answered within
    share: float = 0.8  # service level target share
    shrinkage: float = 0.3  # staffing: paid time not on calls
    default_handle_s: float = DEFAULT_HANDLE_S  # hours without an observed handle time
    conversion_rate: float = 0.1  # lost revenue: share of calls that would have bought
    average_deal_value: float = 5000.0
    currency: str = "₽"
    max_days: int = 400  # longest period a request may ask for
    list_limit: int = 500  # rows of repeat callers and lost calls on the page


@dataclass(frozen=True)
class Query:
    """A request's period and options, validated."""

    since: datetime
    until: datetime
    tz: str
    params: Mapping[str, str]
    settings: ReportSettings

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        """A numeric option within [lo, hi]."""
        raw = self.params.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = float(raw.replace(",", "."))
        except ValueError:
            raise PeriodError(f"Параметр {name}: «{raw}» — не число.") from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise PeriodError(f"Параметр {name}: нужно число от {lo:g} до {hi:g}, а не {raw}.")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        """An integer option within [lo, hi]."""
        value = self.number(name, default, lo, hi)
        if value != int(value):
            raise PeriodError(f"Параметр {name}: нужно целое число, а не {value:g}.")
        return int(value)


Builder = Callable[[Reports, Query], object]


def _lost_count(q: Query) -> LostCount:
    counted = q.params.get("counted", "not_recovered")
    for known in LOST_COUNTS:
        if counted == known:
            return known
    raise PeriodError("Параметр counted: not_recovered (не дозвонились позже) или total (все).")


def _staffing(r: Reports, q: Query) -> object:
    s = q.settings
    target = ServiceTarget(
        answer_within_s=q.number("answer_within_s", s.target_s, 1, 3600),
        share=q.number("share_pct", s.share * 100, 1, 99.9) / 100,
        shrinkage=q.number("shrinkage_pct", s.shrinkage * 100, 0, 90) / 100,
    )
    demand = r.demand_by_hour(q.since, q.until, q.tz)
    return staffing(demand, target, default_handle_s=s.default_handle_s)


def _lost_revenue(r: Reports, q: Query) -> object:
    s = q.settings
    conversion = q.number("conversion_pct", s.conversion_rate * 100, 0, 100) / 100
    value = q.number("deal_value", s.average_deal_value, 0, 1e12)
    counted = _lost_count(q)
    return lost_revenue_estimate(
        r.lost_calls(q.since, q.until, limit=0), conversion, value, counted
    )


def _window(q: Query) -> int:
    return q.integer("window_days", q.settings.window_days, 1, 90)


def _target(q: Query) -> float:
    return q.number("target_s", q.settings.target_s, 1, 3600)


def _limit(q: Query) -> int:
    return q.integer("limit", q.settings.list_limit, 1, 100_000)


REPORTS: Final[Mapping[str, Builder]] = {
    "calls_per_hour": lambda r, q: r.calls_per_hour(q.since, q.until, q.tz),
    "calls_per_day": lambda r, q: r.calls_per_day(q.since, q.until, q.tz),
    "outcomes": lambda r, q: r.outcomes(q.since, q.until),
    "answer_times": lambda r, q: r.answer_times(q.since, q.until, target_s=_target(q)),
    "wait_by_hour": lambda r, q: r.wait_by_hour(q.since, q.until, q.tz, target_s=_target(q)),
    "talk_durations": lambda r, q: r.talk_durations(q.since, q.until),
    "operator_load": lambda r, q: r.operator_load(q.since, q.until),
    "containment_by_entry": lambda r, q: r.containment_by_entry(
        q.since, q.until, window_days=_window(q)
    ),
    "containment_by_topic": lambda r, q: r.containment_by_topic(
        q.since, q.until, window_days=_window(q)
    ),
    "repeat_calls": lambda r, q: r.repeat_calls(
        q.since, q.until, window_days=_window(q), limit=_limit(q)
    ),
    "lost_calls": lambda r, q: r.lost_calls(q.since, q.until, limit=_limit(q)),
    "ratings": lambda r, q: r.ratings(q.since, q.until),
    "demand_by_hour": lambda r, q: r.demand_by_hour(q.since, q.until, q.tz),
    "staffing": _staffing,
    "lost_revenue": _lost_revenue,
}


def parse_moment(raw: str, zone: ZoneInfo, name: str) -> datetime:
    """A date (local midnight in `zone`) or an ISO 8601 time with an offset; else PeriodError."""
    text = raw.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise PeriodError(_unparsable(name, raw)) from None
        return datetime.combine(day, time(), zone)
    # A "+" left unencoded in a query string arrives as a space: "...T00:00:00 03:00".
    if len(text) > 6 and text[-6] == " " and text[-3] == ":":
        text = f"{text[:-6]}+{text[-5:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(_unparsable(name, raw)) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PeriodError(
            f"Время {name}=«{raw}» указано без часового пояса: добавьте смещение "
            "(например +03:00) или укажите только дату ГГГГ-ММ-ДД."
        )
    return moment


def _unparsable(name: str, raw: str) -> str:
    return (
        f"Не удалось разобрать {name}=«{raw}»: нужна дата ГГГГ-ММ-ДД или время ISO 8601 "
        "с часовым поясом, например 2025-03-01T00:00:00+03:00."
    )


def parse_query(params: Mapping[str, str], settings: ReportSettings) -> Query:
    """The request's period [since, until) and zone, validated; else PeriodError."""
    tz = (params.get("tz") or settings.tz).strip()
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(
            f"Неизвестный часовой пояс «{tz}»: нужен пояс из базы IANA, например Europe/Moscow."
        ) from None
    since_raw, until_raw = params.get("since"), params.get("until")
    if not since_raw or not until_raw:
        raise PeriodError("Укажите период: начало since и конец until (ГГГГ-ММ-ДД).")
    since = parse_moment(since_raw, zone, "since")
    until = parse_moment(until_raw, zone, "until")
    if since >= until:
        raise PeriodError("Начало периода должно быть раньше его конца.")
    if until - since > timedelta(days=settings.max_days):
        raise PeriodError(f"Период длиннее {settings.max_days} дней: выберите период короче.")
    return Query(since, until, tz, params, settings)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(SECURITY_HEADERS))


def reports_router(
    reports: Reports,
    users: UserStore,
    *,
    clock: Callable[[], datetime],
    settings: ReportSettings | None = None,
    console_settings: ConsoleSettings | None = None,
) -> APIRouter:
    """The reports page and API under /console/reports, behind the console's sign-in."""
    settings = settings or ReportSettings()
    ZoneInfo(settings.tz)  # a wrong zone in the configuration fails at start, not per request
    templates = Jinja2Templates(directory=HERE / "templates")
    guard = Guard(users, console_settings or ConsoleSettings(), clock, templates)
    router = APIRouter(prefix=PREFIX)

    @router.get("", include_in_schema=False)
    async def page(request: Request) -> Response:
        user = await guard.page(request, "reports")
        if isinstance(user, Response):
            return user
        today = clock().astimezone(ZoneInfo(settings.tz)).date()
        context = page_context(user, "reports") | {
            "tz": settings.tz,
            "today": today.isoformat(),
            "settings": settings,
            "outcome_titles": dict(OUTCOME_TITLES) | dict(EXTRA_OUTCOME_TITLES),
            "lost_reason_titles": dict(LOST_REASON_TITLES),
        }
        return templates.TemplateResponse(
            request, "reports.html", context, headers=dict(SECURITY_HEADERS)
        )

    @router.get("/api/{name}")
    async def report(request: Request, name: str) -> Response:
        user = await guard.api(request, "reports")
        if isinstance(user, Response):
            return user
        as_csv = name.endswith(".csv")
        build = REPORTS.get(name.removesuffix(".csv"))
        if build is None:
            return _error(f"Нет такого отчёта: «{name}».", 404)
        try:
            query = parse_query(request.query_params, settings)
            result = await asyncio.to_thread(build, reports, query)
        except PeriodError as error:
            return _error(str(error), 422)
        if as_csv:
            start = query.since.astimezone(ZoneInfo(query.tz)).date().isoformat()
            filename = f"{name.removesuffix('.csv')}_{start}.csv"
            return Response(
                "\ufeff" + to_csv(result),  # the BOM makes Excel read UTF-8
                media_type="text/csv; charset=utf-8",
                headers=dict(SECURITY_HEADERS)
                | {"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return JSONResponse(to_json(result), headers=dict(SECURITY_HEADERS))

    @router.get("/static/reports.js", include_in_schema=False)
    async def script() -> Response:
        return FileResponse(
            HERE / "static" / "reports.js",
            media_type="text/javascript; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    return router
