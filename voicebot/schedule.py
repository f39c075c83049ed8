"""Working hours and holidays of a hotline (bot.yaml `working_hours` and `holidays`), pure logic.

The format, backward compatible with the original `days` / `open` / `close` fields:

```yaml
working_hours:
  timezone: Europe/Moscow        # an IANA zone (zoneinfo); default Europe/Moscow
  # The original form: the listed days, each from `open` to `close` ("24:00" = end of the day).
  days: [mon, tue, wed, thu, fri, sat, sun]
  open: "00:00"
  close: "24:00"
  # Per-day hours. A key names a day (mon..sun or пн..вс), a range (mon-fri; fri-mon wraps),
  # a list (mon,wed,fri) or every day (daily). A value is an interval "09:00-21:00", several
  # intervals (a list, or "09:00-13:00, 14:00-18:00"), or a closed day ("closed", "выходной",
  # "", [], null). An interval that ends before it starts runs overnight: "22:00-06:00" is
  # open from 22:00 that day to 06:00 the next morning.
  mon-fri: "09:00-21:00"
  sat: "10:00-18:00"
  sun: closed
  # Per-topic schedules: the same keys; the timezone is inherited; a topic that sets no hours
  # keeps the general week; `holidays` inside a topic replaces the general list for it.
  topics:
    tech: {daily: "00:00-24:00", holidays: []}
    billing: {mon-fri: "09:00-18:00"}
holidays:
  - "2026-01-01"                                 # closed all day
  - {date: "2026-12-31", hours: "09:00-15:00"}   # shortened hours (or hours: closed)
  - "2026-12-30 09:00-17:00"                     # the same in one string
```

Rules:
- Nothing about hours set (an empty `working_hours`, or only a timezone): open around the clock.
- The original fields give the base week (days not listed are closed); per-day keys replace the
  hours of the days they name; a key naming fewer days wins over one naming more, so
  `mon-fri: ...` with `fri: ...` gives Friday its own hours. With per-day keys only, days not
  named are closed.
- An interval belongs to the day it starts on. A holiday replaces the intervals that start on
  that date; a night shift that started the evening before still runs into the holiday morning.
- Times are wall-clock times in the timezone, also on daylight-saving change days: "09:00-18:00"
  opens when the local clock shows 09:00. An opening inside the hour skipped in spring happens
  when the clock jumps (02:30 -> 03:00).
- YAML reads unquoted `10:00` as the sexagesimal integer 600; integers are taken as minutes.
- A holiday whose hours cannot be read is reported and closed all day.
- `holidays` entries may arrive as strings of a mapping (knowledge.py stringifies entries);
  such strings are read back.

`parse_schedule` never raises: every bad part is reported as a Russian message (for `kb check`)
and ignored. Datetimes passed in should be aware; naive ones are taken as UTC.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voicebot.speakable import cardinal

__all__ = ["DEFAULT_TIMEZONE", "Hours", "Interval", "Schedule", "parse_schedule"]

DEFAULT_TIMEZONE: Final = "Europe/Moscow"
DAY: Final = 24 * 60  # minutes
_HORIZON_DAYS: Final = 371  # next_open looks a year and a week ahead

_DAY_NAMES: Final[dict[str, int]] = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))},
}
_EVERY_DAY: Final = frozenset({"daily", "ежедневно", "everyday"})
_CLOSED_WORDS: Final = frozenset({"closed", "выходной", "off", "нерабочий", "закрыто"})
_ORIGINAL_KEYS: Final = frozenset({"days", "open", "close"})
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
_INTERVAL = re.compile(r"^\s*(\S+?)\s*[-–—]\s*(\S+)\s*$")
_DATE_AND_HOURS = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s+(.+))?$")
_DATE_REPR = re.compile(r"datetime\.date\((\d+),\s*(\d+),\s*(\d+)\)")


@dataclass(frozen=True, order=True)
class Interval:
    """Open from `start` to `end`, minutes after the midnight of the day it starts on."""

    start: int  # 0 <= start < 1440
    end: int  # start < end <= start + 1440; above 1440 it runs into the next day

    def on(self, day: date) -> tuple[datetime, datetime]:
        """The naive wall-clock bounds of this interval on `day`."""
        midnight = datetime(day.year, day.month, day.day)
        return midnight + timedelta(minutes=self.start), midnight + timedelta(minutes=self.end)


ALL_DAY: Final = Interval(0, DAY)


@dataclass(frozen=True)
class Hours:
    """One schedule: weekly hours in a timezone plus dated exceptions (holidays)."""

    zone: ZoneInfo
    week: tuple[tuple[Interval, ...], ...]  # seven days, Monday first
    exceptions: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The intervals that start on `day` (a holiday's own, or the weekday's)."""
        return self.exceptions.get(day, self.week[day.weekday()])

    def around_the_clock(self) -> bool:
        """Open every minute of every day, with no holiday closing it."""
        full = (ALL_DAY,)
        return all(d == full for d in self.week) and all(
            e == full for e in self.exceptions.values()
        )

    def is_open(self, at: datetime) -> bool:
        """Whether the line is open at the moment `at`."""
        now = _wall(at, self.zone)
        for day in (now.date() - timedelta(days=1), now.date()):
            for interval in self.intervals_on(day):
                start, end = interval.on(day)
                if start <= now < end:
                    return True
        return False

    def next_open(self, at: datetime) -> datetime | None:
        """`at` if open, else the next opening (aware, in the schedule's zone); None if never."""
        if not any(self.week) and not any(self.exceptions.values()):
            return None
        now = _wall(at, self.zone)
        first = now.date() - timedelta(days=1)
        for offset in range(_HORIZON_DAYS + 1):
            day = first + timedelta(days=offset)
            for interval in self.intervals_on(day):
                start, end = interval.on(day)
                if start <= now < end:
                    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(self.zone)
                if start > now:
                    return _aware(start, self.zone)
        return None


@dataclass(frozen=True)
class Schedule:
    """The hotline's hours: a general schedule and per-topic ones."""

    default: Hours
    topics: Mapping[str, Hours] = field(default_factory=dict)

    @classmethod
    def always_open(cls, timezone: str = DEFAULT_TIMEZONE) -> Schedule:
        """The default when bot.yaml sets no hours: open around the clock."""
        return cls(Hours(ZoneInfo(timezone), ((ALL_DAY,),) * 7))

    def hours(self, topic: str | None = None) -> Hours:
        """The schedule of `topic` (the general one for None or a topic without its own)."""
        if topic is not None and topic in self.topics:
            return self.topics[topic]
        return self.default

    def around_the_clock(self, topic: str | None = None) -> bool:
        """Open every minute of every day for `topic`."""
        return self.hours(topic).around_the_clock()

    def is_open(self, at: datetime, topic: str | None = None) -> bool:
        """Whether operators of `topic` work at the moment `at`."""
        return self.hours(topic).is_open(at)

    def next_open(self, at: datetime, topic: str | None = None) -> datetime | None:
        """`at` if open, else the next opening for `topic`; None if it never opens."""
        return self.hours(topic).next_open(at)

    def hours_phrase(self, topic: str | None = None) -> str:
        """The weekly hours as a Russian sentence for the voice («Мы работаем по будням с ...»)."""
        return _phrase(self.hours(topic))


# --------------------------------------------------------------------------- time helpers


def _wall(at: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock time of `at` (naive `at` is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    # Through UTC: astimezone() to the datetime's own zone returns it unchanged, even when it
    # names a wall time that does not exist (inside the hour skipped in spring).
    return at.astimezone(UTC).astimezone(zone).replace(tzinfo=None)


def _aware(wall: datetime, zone: ZoneInfo) -> datetime:
    """The moment the local clock first shows `wall` (or jumps past it in spring)."""
    for minute in range(0, 24 * 60):
        candidate = (wall + timedelta(minutes=minute)).replace(tzinfo=zone)
        if _wall(candidate, zone) == candidate.replace(tzinfo=None):
            return candidate
    return wall.replace(tzinfo=zone)  # unreachable with real zones: gaps last hours at most


def _clock(minutes: int) -> str:
    return f"{minutes // 60 % 24 if minutes != DAY else 24:02d}:{minutes % 60:02d}"


# --------------------------------------------------------------------------- parsing


def parse_schedule(
    working_hours: Mapping[str, Any], holidays: Sequence[Any]
) -> tuple[Schedule, list[str]]:
    """The schedule from bot.yaml's `working_hours` and `holidays`, and the problems found."""
    problems: list[str] = []
    raw: Mapping[str, Any] = working_hours if isinstance(working_hours, Mapping) else {}
    if working_hours is not None and raw is not working_hours:
        problems.append("working_hours: ожидается словарь, часы работы не заданы")
    zone = _zone(raw.get("timezone"), "working_hours.timezone", _default_zone(), problems)
    known = _ORIGINAL_KEYS | {"timezone", "topics", "holidays"}
    week = _week(raw, "working_hours", known, problems) or (((ALL_DAY,),) * 7)
    all_holidays = list(holidays or ()) if _is_list(holidays, "holidays", problems) else []
    if "holidays" in raw and _is_list(raw["holidays"], "working_hours.holidays", problems):
        all_holidays += list(raw["holidays"] or ())
    exceptions = _holidays(all_holidays, "holidays", problems)
    default = Hours(zone, week, exceptions)
    topics: dict[str, Hours] = {}
    raw_topics = raw.get("topics") or {}
    if not isinstance(raw_topics, Mapping):
        problems.append("working_hours.topics: ожидается словарь «тема: часы работы»")
        raw_topics = {}
    for name, spec in raw_topics.items():
        where = f"working_hours.topics.{name}"
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: ожидается словарь часов работы, тема работает по общим")
            continue
        topic_zone = _zone(spec.get("timezone"), f"{where}.timezone", zone, problems)
        topic_week = _week(spec, where, _ORIGINAL_KEYS | {"timezone", "holidays"}, problems)
        topic_exceptions = exceptions
        if "holidays" in spec:
            own = (
                spec["holidays"]
                if _is_list(spec["holidays"], f"{where}.holidays", problems)
                else []
            )
            topic_exceptions = _holidays(list(own or ()), f"{where}.holidays", problems)
        topics[str(name)] = Hours(topic_zone, topic_week or week, topic_exceptions)
    return Schedule(default, topics), problems


def _default_zone() -> ZoneInfo:
    return ZoneInfo(DEFAULT_TIMEZONE)


def _is_list(value: Any, where: str, problems: list[str]) -> bool:
    if value is None or (isinstance(value, Sequence) and not isinstance(value, str)):
        return True
    problems.append(f"{where}: ожидается список дат")
    return False


def _zone(value: Any, where: str, fallback: ZoneInfo, problems: list[str]) -> ZoneInfo:
    if value is None or value == "":
        return fallback
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"{where}: неизвестный часовой пояс «{value}», беру {fallback.key}")
        return fallback


def _week(
    raw: Mapping[str, Any], where: str, known: frozenset[str], problems: list[str]
) -> tuple[tuple[Interval, ...], ...] | None:
    """The weekly hours a mapping sets, or None when it sets none."""
    days: list[tuple[Interval, ...] | None] = [None] * 7
    original = _original_form(raw, where, problems)
    if original is not None:
        days = list(original)
    overrides: list[tuple[list[int], tuple[Interval, ...]]] = []
    for key, value in raw.items():
        if str(key) in known:
            continue
        named = _day_set(str(key))
        if named is None:
            problems.append(
                f"{where}: непонятный ключ «{key}» (ожидаются дни mon..sun, диапазон mon-fri, "
                "daily, а также timezone, days, open, close)"
            )
            continue
        intervals = _intervals(value, f"{where}.{key}", problems)
        if intervals is not None:
            overrides.append((named, intervals))
    if original is None and not overrides:
        return None
    for named, intervals in sorted(overrides, key=lambda item: -len(item[0])):
        for day in named:
            days[day] = intervals
    return tuple(d or () for d in days)


def _original_form(
    raw: Mapping[str, Any], where: str, problems: list[str]
) -> tuple[tuple[Interval, ...], ...] | None:
    """The week from `days` / `open` / `close`, or None when none of them is set."""
    if not any(key in raw for key in _ORIGINAL_KEYS):
        return None
    days_raw = raw.get("days", list(_DAY_NAMES)[:7])
    if isinstance(days_raw, str):
        days_raw = [days_raw]
    elif not isinstance(days_raw, Sequence):
        problems.append(f"{where}.days: ожидается список дней, например [mon, tue, wed]")
        days_raw = []
    named: set[int] = set()
    for item in days_raw:
        found = _day_set(str(item))
        if found is None:
            problems.append(f"{where}.days: непонятный день «{item}» (ожидаются mon..sun)")
        else:
            named.update(found)
    if not named:
        problems.append(f"{where}.days: не указано ни одного рабочего дня, операторы не работают")
    start = _minutes(raw.get("open", 0))
    end = _minutes(raw.get("close", DAY))
    if start is None or start >= DAY or end is None:
        problems.append(
            f"{where}: непонятное время open/close «{raw.get('open')}»–«{raw.get('close')}» "
            "(ожидается ЧЧ:ММ), поля open/close не учтены"
        )
        return None
    interval = _interval(start, end, f"{where}.open/close", problems)
    if interval is None:
        return None
    return tuple((interval,) if day in named else () for day in range(7))


def _day_set(key: str) -> list[int] | None:
    """The weekdays (0 = Monday) a key names, or None if it names none."""
    key = key.strip().lower()
    if key in _EVERY_DAY:
        return list(range(7))
    result: list[int] = []
    for part in re.split(r"\s*,\s*", key):
        if part in _DAY_NAMES:
            result.append(_DAY_NAMES[part])
            continue
        ends = re.split(r"\s*[-–—]\s*", part)
        if len(ends) != 2 or ends[0] not in _DAY_NAMES or ends[1] not in _DAY_NAMES:
            return None
        first, last = _DAY_NAMES[ends[0]], _DAY_NAMES[ends[1]]
        result.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
    return sorted(set(result)) or None


def _minutes(value: Any) -> int | None:
    """Minutes after midnight from "HH:MM" (up to "24:00") or YAML's sexagesimal integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= DAY else None
    found = _TIME.match(str(value).strip())
    if not found:
        return None
    hours, minutes = int(found.group(1)), int(found.group(2) or 0)
    if minutes >= 60 or hours * 60 + minutes > DAY:
        return None
    return hours * 60 + minutes


def _interval(start: int, end: int, where: str, problems: list[str]) -> Interval | None:
    if start >= DAY:
        problems.append(f"{where}: интервал не может начинаться в 24:00")
        return None
    if end == start:
        problems.append(
            f"{where}: пустой интервал {_clock(start)}-{_clock(end)} "
            "(для круглосуточной работы укажите 00:00-24:00)"
        )
        return None
    if end < start:
        end += DAY  # overnight
    return Interval(start, end)


def _intervals(value: Any, where: str, problems: list[str]) -> tuple[Interval, ...] | None:
    """A day's intervals from a value, () for a closed day, None (reported) when unreadable."""
    if value is None or value is False:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() in _CLOSED_WORDS:
            return ()
        items: list[Any] = [p for p in re.split(r"\s*[,;]\s*", text) if p]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        problems.append(f"{where}: непонятные часы «{value}» (ожидается ЧЧ:ММ-ЧЧ:ММ или closed)")
        return None
    found: list[Interval] = []
    for item in items:
        match = _INTERVAL.match(str(item))
        start = _minutes(match.group(1)) if match else None
        end = _minutes(match.group(2)) if match else None
        if start is None or end is None:
            problems.append(
                f"{where}: непонятный интервал «{item}» (ожидается ЧЧ:ММ-ЧЧ:ММ, например 09:00-18:00)"
            )
            continue
        interval = _interval(start, end, where, problems)
        if interval is not None:
            found.append(interval)
    if items and not found:
        return None
    return _merged(found)


def _merged(intervals: list[Interval]) -> tuple[Interval, ...]:
    """Sorted, overlapping or touching intervals joined."""
    result: list[Interval] = []
    for interval in sorted(intervals):
        if result and interval.start <= result[-1].end:
            last = result[-1]
            result[-1] = Interval(last.start, min(max(last.end, interval.end), last.start + DAY))
        else:
            result.append(interval)
    return tuple(result)


def _holidays(
    entries: Sequence[Any], where: str, problems: list[str]
) -> dict[date, tuple[Interval, ...]]:
    """Dated exceptions: () for a closed day, or the day's shortened hours."""
    result: dict[date, tuple[Interval, ...]] = {}
    for i, entry in enumerate(entries):
        here = f"{where}[{i}]"
        parsed = _holiday(entry, here, problems)
        if parsed is None:
            continue
        day, intervals = parsed
        if day in result:
            problems.append(f"{here}: дата {day.isoformat()} указана повторно, беру последнюю")
        result[day] = intervals
    return result


def _holiday(
    entry: Any, where: str, problems: list[str]
) -> tuple[date, tuple[Interval, ...]] | None:
    usage = "(ожидается ГГГГ-ММ-ДД, «ГГГГ-ММ-ДД ЧЧ:ММ-ЧЧ:ММ» или {date: ГГГГ-ММ-ДД, hours: ЧЧ:ММ-ЧЧ:ММ})"
    hours: Any = None
    if isinstance(entry, str) and entry.strip().startswith("{"):
        entry = _mapping_repr(entry) or entry
    if isinstance(entry, Mapping):
        day_raw, hours = entry.get("date"), entry.get("hours")
        extra = set(map(str, entry)) - {"date", "hours"}
        if extra:
            problems.append(f"{where}: непонятные поля {', '.join(sorted(extra))} {usage}")
    elif isinstance(entry, str):
        found = _DATE_AND_HOURS.match(entry.strip())
        day_raw, hours = (found.group(1), found.group(2)) if found else (entry, None)
    else:
        day_raw = entry
    day = _date(day_raw)
    if day is None:
        problems.append(f"{where}: непонятная дата «{day_raw}» {usage}")
        return None
    # Unreadable hours (reported by _intervals) leave the holiday closed.
    return day, _intervals(hours, f"{where}.hours", problems) or ()


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _mapping_repr(text: str) -> Mapping[str, Any] | None:
    """A mapping read back from its Python repr (knowledge.py stores holidays as str(entry))."""
    text = _DATE_REPR.sub(lambda m: f"'{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}'", text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------- the spoken phrase

_DAY_ACC: Final = (
    "понедельник",
    "вторник",
    "среду",
    "четверг",
    "пятницу",
    "субботу",
    "воскресенье",
)
_DAY_GEN: Final = (
    "понедельника",
    "вторника",
    "среды",
    "четверга",
    "пятницы",
    "субботы",
    "воскресенья",
)
_WEEKDAYS: Final = frozenset(range(5))
_WEEKEND: Final = frozenset({5, 6})


def _phrase(hours: Hours) -> str:
    """The regular week in words (holidays are not spoken)."""
    if all(intervals == (ALL_DAY,) for intervals in hours.week):
        return "Мы работаем круглосуточно, без выходных."
    groups: dict[tuple[Interval, ...], list[int]] = {}
    for day, intervals in enumerate(hours.week):
        if intervals:
            groups.setdefault(intervals, []).append(day)
    if not groups:
        return "Операторы сейчас не принимают звонки."
    parts = [
        f"{_days_phrase(days)} {_hours_phrase(intervals)}"
        for intervals, days in sorted(groups.items(), key=lambda item: item[1][0])
    ]
    return "Мы работаем " + ", ".join(parts) + "."


def _days_phrase(days: list[int]) -> str:
    rest = set(days)
    if rest == set(range(7)):
        return "ежедневно"
    items: list[str] = []
    if rest >= _WEEKDAYS:
        items.append("по будням")
        rest -= _WEEKDAYS
    if rest >= _WEEKEND:
        items.append("по выходным")
        rest -= _WEEKEND
    for run in _runs(sorted(rest)):
        if len(run) >= 3:
            items.append(
                f"{'со' if run[0] == 1 else 'с'} {_DAY_GEN[run[0]]} по {_DAY_ACC[run[-1]]}"
            )
        else:
            items.extend(f"{'во' if day == 1 else 'в'} {_DAY_ACC[day]}" for day in run)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " и " + items[-1]


def _runs(days: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _hours_phrase(intervals: tuple[Interval, ...]) -> str:
    if intervals == (ALL_DAY,):
        return "круглосуточно"
    spans = [f"с {_time_words(i.start)} до {_time_words(i.end)}" for i in intervals]
    text = " и ".join(spans)
    last = intervals[-1].end % DAY
    if last and last % 60 == 0:
        hour = last // 60
        text += " часа" if hour % 10 == 1 and hour % 100 != 11 else " часов"
    return text


def _time_words(minutes: int) -> str:
    """A clock time in the genitive, as in «с девяти тридцати», «до полуночи»."""
    minutes %= DAY
    if minutes == 0:
        return "полуночи"
    hour, minute = divmod(minutes, 60)
    words = cardinal(hour, "gen")
    if minute:
        words += (" ноль " if minute < 10 else " ") + cardinal(minute, "gen")
    return words
