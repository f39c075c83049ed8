"""Working hours: the bot.yaml format, edge cases of time (midnight, 24:00, overnight, holidays,
daylight saving) and the spoken hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from voicebot.knowledge import load_knowledge_base
from voicebot.schedule import Interval, Schedule, parse_schedule

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
DEFAULT_KB = Path(__file__).resolve().parents[1] / "knowledge_base"

# 2026-06-01 is a Monday.
MON = date(2026, 6, 1)


def msk(day: date, hour: int, minute: int = 0) -> datetime:
    """A Moscow wall-clock moment, passed in as UTC like the store does."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MSK).astimezone(UTC)


def parsed(working_hours: dict[str, Any], holidays: list[Any] | None = None) -> Schedule:
    """A schedule that must parse without problems."""
    schedule, problems = parse_schedule(working_hours, holidays or [])
    assert problems == []
    return schedule


OFFICE = {"timezone": "Europe/Moscow", "mon-fri": "09:00-21:00", "sat": "10:00-18:00"}


# --------------------------------------------------------------------------- format


def test_the_default_bot_yaml_is_open_around_the_clock() -> None:
    bot = load_knowledge_base(DEFAULT_KB).config
    schedule, problems = parse_schedule(bot.working_hours, bot.holidays)
    assert problems == []
    assert schedule.around_the_clock()
    assert schedule.is_open(msk(MON, 3, 17))
    assert schedule.hours_phrase() == "Мы работаем круглосуточно, без выходных."


@pytest.mark.parametrize("working_hours", [{}, {"timezone": "Europe/Moscow"}])
def test_empty_config_is_always_open(working_hours: dict[str, Any]) -> None:
    schedule = parsed(working_hours)
    assert schedule.around_the_clock()
    for hour in (0, 6, 12, 23):
        assert schedule.is_open(msk(MON + timedelta(days=hour % 7), hour, 59))
    assert Schedule.always_open().is_open(msk(MON, 4))
    assert Schedule.always_open().around_the_clock()


def test_original_form_days_open_close() -> None:
    schedule = parsed(
        {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "18:00"}
    )
    assert not schedule.is_open(msk(MON, 8, 59))
    assert schedule.is_open(msk(MON, 9))
    assert schedule.is_open(msk(MON, 17, 59))
    assert not schedule.is_open(msk(MON, 18))
    assert not schedule.is_open(msk(MON + timedelta(days=5), 12))  # Saturday


def test_yaml_sexagesimal_integers_are_minutes() -> None:
    # Unquoted `open: 10:00` arrives from PyYAML as 600, `close: 24:00` as 1440.
    schedule = parsed({"open": 600, "close": 1440})
    assert not schedule.is_open(msk(MON, 9, 59))
    assert schedule.is_open(msk(MON, 10))
    assert schedule.is_open(msk(MON, 23, 59))


def test_per_day_keys_ranges_lists_and_several_intervals() -> None:
    schedule = parsed(
        {
            "mon-fri": "09:00-21:00",
            "fri": ["09:00-13:00", "14:00-17:00"],  # fewer days win over mon-fri
            "sat,sun": "10:00-12:00, 15:00-16:00",
        }
    )
    fri, sat, sun = (MON + timedelta(days=d) for d in (4, 5, 6))
    assert schedule.is_open(msk(MON, 20, 59))
    assert schedule.is_open(msk(fri, 12, 59))
    assert not schedule.is_open(msk(fri, 13, 30))
    assert not schedule.is_open(msk(fri, 18))
    assert schedule.is_open(msk(sat, 15, 30))
    assert not schedule.is_open(msk(sun, 13))


def test_days_not_named_by_per_day_keys_are_closed() -> None:
    schedule = parsed(OFFICE)
    sunday = MON + timedelta(days=6)
    assert not any(schedule.is_open(msk(sunday, h)) for h in range(24))


def test_per_day_keys_override_the_original_form() -> None:
    schedule = parsed({"days": ["mon", "tue"], "open": "08:00", "close": "20:00", "tue": "closed"})
    assert schedule.is_open(msk(MON, 8))
    assert not schedule.is_open(msk(MON + timedelta(days=1), 12))


# --------------------------------------------------------------------------- midnight and 24:00


def test_midnight_and_24_00() -> None:
    schedule = parsed({"mon": "18:00-24:00", "tue": "00:00-02:00"})
    tue = MON + timedelta(days=1)
    assert schedule.is_open(msk(MON, 23, 59))
    assert schedule.is_open(msk(tue, 0, 0))  # Tuesday's own interval starts at midnight
    assert schedule.is_open(msk(tue, 1, 59))
    assert not schedule.is_open(msk(tue, 2, 0))
    assert not schedule.is_open(msk(MON, 0, 0))  # Monday begins closed
    assert not schedule.is_open(msk(MON, 17, 59))


def test_24_00_ends_the_day_and_the_day_after_is_closed() -> None:
    schedule = parsed({"mon": "20:00-24:00"})
    tue = MON + timedelta(days=1)
    assert schedule.is_open(msk(MON, 23, 59))
    assert not schedule.is_open(msk(tue, 0, 0))
    assert schedule.next_open(msk(tue, 0, 0)) == msk(MON + timedelta(days=7), 20)


# --------------------------------------------------------------------------- overnight


def test_overnight_interval_runs_into_the_next_day() -> None:
    schedule = parsed({"mon-fri": "22:00-06:00"})
    tue, sat, sun = (MON + timedelta(days=d) for d in (1, 5, 6))
    assert schedule.is_open(msk(MON, 22))
    assert schedule.is_open(msk(tue, 0, 0))
    assert schedule.is_open(msk(tue, 5, 59))
    assert not schedule.is_open(msk(tue, 6))
    assert not schedule.is_open(msk(MON, 3))  # Sunday night is not a shift
    assert schedule.is_open(msk(sat, 5))  # Friday night's shift ends on Saturday morning
    assert not schedule.is_open(msk(sat, 22))
    assert not schedule.is_open(msk(sun, 23))
    assert schedule.next_open(msk(sat, 7)) == msk(MON + timedelta(days=7), 22)


def test_overnight_across_a_holiday() -> None:
    tue, wed = MON + timedelta(days=1), MON + timedelta(days=2)
    schedule = parsed({"daily": "22:00-06:00"}, [tue.isoformat()])
    # Monday night's shift still runs into the holiday morning ...
    assert schedule.is_open(msk(tue, 5))
    # ... but no shift starts on the holiday, so Tuesday night is closed.
    assert not schedule.is_open(msk(tue, 23))
    assert not schedule.is_open(msk(wed, 3))
    assert schedule.next_open(msk(tue, 7)) == msk(wed, 22)
    # A holiday on Monday closes the shift that would have started that evening.
    closed_monday = parsed({"daily": "22:00-06:00"}, [MON.isoformat()])
    assert not closed_monday.is_open(msk(tue, 3))


# --------------------------------------------------------------------------- holidays


def test_holiday_closes_the_day() -> None:
    schedule = parsed(OFFICE, ["2026-06-12"])  # a Friday
    friday = date(2026, 6, 12)
    assert not schedule.is_open(msk(friday, 12))
    assert schedule.is_open(msk(friday - timedelta(days=1), 12))
    assert schedule.next_open(msk(friday, 12)) == msk(friday + timedelta(days=1), 10)


@pytest.mark.parametrize(
    "entry",
    [
        {"date": "2026-12-31", "hours": "09:00-15:00"},
        {"date": date(2026, 12, 31), "hours": "09:00-15:00"},
        "2026-12-31 09:00-15:00",
        # what knowledge.py makes of a mapping entry (str(entry)), read back
        str({"date": "2026-12-31", "hours": "09:00-15:00"}),
        str({"date": date(2026, 12, 31), "hours": "09:00-15:00"}),
    ],
)
def test_holiday_with_shortened_hours(entry: Any) -> None:
    schedule = parsed(OFFICE, [entry])
    eve = date(2026, 12, 31)  # a Thursday: normally 09:00-21:00
    assert schedule.default.intervals_on(eve) == (Interval(9 * 60, 15 * 60),)
    assert schedule.is_open(msk(eve, 14, 59))
    assert not schedule.is_open(msk(eve, 15))
    assert schedule.next_open(msk(eve, 16)) == msk(date(2027, 1, 1), 9)


def test_holiday_dates_from_yaml_date_objects() -> None:
    schedule = parsed(OFFICE, [date(2026, 6, 12)])
    assert not schedule.is_open(msk(date(2026, 6, 12), 12))


def test_holiday_from_the_knowledge_base_loader(write_kb: Callable[..., Path]) -> None:
    """Entries go through knowledge.py (which stringifies them) and still mean the same."""
    faq = {
        "billing.yaml": [
            {
                "id": "payment-methods",
                "topic": "billing",
                "title": "способы оплаты",
                "questions": ["как оплатить интернет", "способы оплаты услуг"],
                "answer": "Оплатить можно картой на сайте.",
            }
        ]
    }
    kb = write_kb(
        faq,
        bot="name: Линия\nworking_hours:\n  mon-fri: '09:00-21:00'\n"
        "holidays:\n  - 2026-06-12\n  - {date: 2026-12-31, hours: '09:00-15:00'}\n",
    )
    bot = load_knowledge_base(kb).config
    schedule, problems = parse_schedule(bot.working_hours, bot.holidays)
    assert problems == []
    assert not schedule.is_open(msk(date(2026, 6, 12), 12))
    assert schedule.is_open(msk(date(2026, 12, 31), 14))
    assert not schedule.is_open(msk(date(2026, 12, 31), 16))


# --------------------------------------------------------------------------- topics


def test_per_topic_schedules() -> None:
    schedule = parsed(
        {
            **OFFICE,
            "topics": {
                "tech": {"mon-sun": "00:00-24:00", "holidays": []},
                "billing": {"mon-fri": "10:00-17:00"},
                "sales": {"timezone": "Asia/Yekaterinburg"},  # no hours: the general week
            },
        },
        ["2026-06-12"],
    )
    sunday_night = msk(MON + timedelta(days=6), 3)
    assert schedule.is_open(sunday_night, "tech")
    assert not schedule.is_open(sunday_night)
    assert not schedule.is_open(sunday_night, "unknown-topic")
    assert schedule.is_open(msk(date(2026, 6, 12), 12), "tech")  # works on the holiday
    assert not schedule.is_open(msk(date(2026, 6, 12), 12), "billing")  # inherits holidays
    assert not schedule.is_open(msk(MON, 9, 30), "billing")
    assert schedule.is_open(msk(MON, 9, 30))
    # Yekaterinburg is two hours ahead of Moscow: 09:00 there is 07:00 in Moscow.
    assert schedule.is_open(msk(MON, 7), "sales")
    assert not schedule.is_open(msk(MON, 6, 59), "sales")
    assert schedule.around_the_clock("tech")
    assert schedule.hours_phrase("tech") == "Мы работаем круглосуточно, без выходных."


# --------------------------------------------------------------------------- time zones


def test_moscow_has_no_daylight_saving() -> None:
    schedule = parsed({"daily": "09:00-18:00"})
    for day in (date(2026, 1, 15), date(2026, 7, 15)):
        opening = datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)  # UTC+3 all year
        assert schedule.is_open(opening)
        assert not schedule.is_open(opening - timedelta(minutes=1))


def test_berlin_spring_forward_day() -> None:
    # 2026-03-29: clocks go from 02:00 CET (UTC+1) to 03:00 CEST (UTC+2).
    schedule = parsed({"timezone": "Europe/Berlin", "daily": "09:00-18:00"})
    day = date(2026, 3, 29)
    opening = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert schedule.is_open(opening)
    assert not schedule.is_open(opening - timedelta(minutes=1))
    assert schedule.is_open(datetime(2026, 3, 28, 8, 0, tzinfo=UTC))  # Saturday: 09:00 CET
    assert not schedule.is_open(datetime(2026, 3, 28, 7, 59, tzinfo=UTC))
    nxt = schedule.next_open(datetime(2026, 3, 28, 20, 0, tzinfo=UTC))
    assert nxt == opening
    assert nxt is not None and nxt.tzinfo == BERLIN and nxt.hour == 9 and nxt.date() == day


def test_berlin_overnight_shift_across_the_clock_change() -> None:
    schedule = parsed({"timezone": "Europe/Berlin", "sat": "22:00-06:00"})
    # Saturday 22:00 CET = 21:00 UTC; Sunday 06:00 CEST = 04:00 UTC: a seven-hour shift.
    assert not schedule.is_open(datetime(2026, 3, 28, 20, 59, tzinfo=UTC))
    assert schedule.is_open(datetime(2026, 3, 28, 21, 0, tzinfo=UTC))
    assert schedule.is_open(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30 CEST
    assert schedule.is_open(datetime(2026, 3, 29, 3, 59, tzinfo=UTC))
    assert not schedule.is_open(datetime(2026, 3, 29, 4, 0, tzinfo=UTC))


def test_opening_inside_the_skipped_hour_happens_at_the_jump() -> None:
    schedule = parsed({"timezone": "Europe/Berlin", "sun": "02:30-05:00"})
    nxt = schedule.next_open(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert nxt == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the jump


def test_berlin_fall_back_day_repeated_hour() -> None:
    # 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    schedule = parsed({"timezone": "Europe/Berlin", "sun": "02:00-03:00"})
    assert schedule.is_open(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST
    assert schedule.is_open(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET
    assert not schedule.is_open(datetime(2026, 10, 25, 2, 0, tzinfo=UTC))  # 03:00 CET


# --------------------------------------------------------------------------- next_open


def test_next_open_when_open_is_now_and_never_when_never() -> None:
    schedule = parsed(OFFICE)
    now = msk(MON, 12)
    assert schedule.next_open(now) == now
    assert schedule.next_open(msk(MON, 21)) == msk(MON + timedelta(days=1), 9)
    assert schedule.next_open(msk(MON + timedelta(days=5), 18)) == msk(MON + timedelta(days=7), 9)
    never, problems = parse_schedule({"days": []}, [])
    assert problems  # reported: no working day at all
    assert never.next_open(now) is None
    assert not never.is_open(now)


def test_naive_datetimes_are_utc() -> None:
    schedule = parsed(OFFICE)
    assert schedule.is_open(datetime(2026, 6, 1, 6, 0))  # 09:00 in Moscow
    assert not schedule.is_open(datetime(2026, 6, 1, 5, 59))


# --------------------------------------------------------------------------- problems


def test_invalid_entries_are_reported_and_ignored() -> None:
    schedule, problems = parse_schedule(
        {
            "timezone": "Mars/Olympus",
            "mon-fri": "09:00-21:00",
            "sat": "10-18:00:00",
            "sun": "25:00-26:00",
            "wed": "09:00-09:00",
            "funday": "10:00-12:00",
            "thu": 42.5,
            "topics": {"tech": "always", "billing": {"mon": "08:00-17:00", "tuesday": "x"}},
        },
        ["2026-13-01", "2026-06-12", {"date": "2026-06-13", "hours": "nonsense"}, "2026-06-12"],
    )
    text = "\n".join(problems)
    assert "Mars/Olympus" in text and "Europe/Moscow" in text
    for bad in ("10-18:00:00", "25:00-26:00", "09:00-09:00", "funday", "42.5", "2026-13-01"):
        assert bad in text, bad
    assert "working_hours.topics.tech" in text
    assert "tuesday" in text
    assert "повторно" in text  # 2026-06-12 twice
    assert len(problems) == 11
    assert all(any("а" <= ch <= "я" for ch in p) for p in problems)  # Russian messages
    # What was valid still works: the timezone fell back to Moscow, weekdays 09:00-21:00.
    assert schedule.is_open(msk(MON, 9))
    assert schedule.is_open(
        msk(MON + timedelta(days=2), 12)
    )  # the empty Wednesday interval ignored
    assert not schedule.is_open(msk(MON + timedelta(days=5), 12))  # bad Saturday: closed
    assert not schedule.is_open(msk(date(2026, 6, 12), 12))
    assert not schedule.is_open(msk(date(2026, 6, 13), 12))  # unreadable hours: closed
    assert schedule.is_open(msk(MON, 8), "billing")


@pytest.mark.parametrize("bad", [None, "9-18", 42, ["mon"]])
def test_bad_top_level_values_never_raise(bad: Any) -> None:
    schedule, problems = parse_schedule(bad, bad)
    assert schedule.is_open(msk(MON, 3))
    assert (problems == []) == (bad is None)


# --------------------------------------------------------------------------- the spoken hours


@pytest.mark.parametrize(
    ("working_hours", "phrase"),
    [
        (
            OFFICE,
            "Мы работаем по будням с девяти до двадцати одного часа, "
            "в субботу с десяти до восемнадцати часов.",
        ),
        ({"daily": "08:00-20:00"}, "Мы работаем ежедневно с восьми до двадцати часов."),
        (
            {"mon-thu": "09:00-18:00", "fri": "09:00-16:45"},
            "Мы работаем с понедельника по четверг с девяти до восемнадцати часов, "
            "в пятницу с девяти до шестнадцати сорока пяти.",
        ),
        (
            {"mon-fri": "09:00-13:00, 14:00-18:00", "sat-sun": "00:00-24:00"},
            "Мы работаем по будням с девяти до тринадцати и с четырнадцати до восемнадцати "
            "часов, по выходным круглосуточно.",
        ),
        (
            {"tue,thu": "22:00-06:00", "sat": "09:05-24:00"},
            "Мы работаем во вторник и в четверг с двадцати двух до шести часов, "
            "в субботу с девяти ноль пяти до полуночи.",
        ),
        (
            {"tue-thu": "10:00-20:00", "sun": "11:00-21:00"},
            "Мы работаем со вторника по четверг с десяти до двадцати часов, "
            "в воскресенье с одиннадцати до двадцати одного часа.",
        ),
        ({"days": []}, "Операторы сейчас не принимают звонки."),
    ],
)
def test_hours_phrase(working_hours: dict[str, Any], phrase: str) -> None:
    schedule, _ = parse_schedule(working_hours, [])
    assert schedule.hours_phrase() == phrase
    assert not any(ch.isdigit() for ch in phrase)
