"""Periods and local time in Python: aware UTC bounds, zone offsets, the local hours and days a
period touches, and small value conversions shared by the reports."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from voicebot.reports.model import Unit


def aware(value: datetime) -> datetime:
    """The aware datetime in UTC; naive ones are refused."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"pass timezone-aware datetimes, got {value!r}")
    return value.astimezone(UTC)


def zoned_period(since: datetime, until: datetime, tz: str) -> tuple[datetime, datetime, ZoneInfo]:
    """The period in UTC and its zone."""
    return aware(since), aware(until), ZoneInfo(tz)


def as_utc(value: Any) -> datetime:
    """A stored timestamp (datetime or SQLite text) as aware UTC."""
    if isinstance(value, str):  # aggregates over SQLite text timestamps come back raw
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a timestamp, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc_or_none(value: Any) -> datetime | None:
    """as_utc, None kept."""
    return None if value is None else as_utc(value)


def share_of(part: int, whole: int) -> float | None:
    """part / whole, None when whole is 0."""
    return part / whole if whole else None


def as_float(value: Any) -> float | None:
    """float(value), None kept."""
    return None if value is None else float(value)


def bin_label(lo: float, hi: float) -> str:
    """A histogram bin label: "20-60" or "300+"."""
    return f"{lo:g}+" if not math.isfinite(hi) else f"{lo:g}-{hi:g}"


def utc_offsets(zone: ZoneInfo, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """[(from_utc, utc_offset_s)] covering [since, until]: a day walk, transitions bisected."""

    def offset(t: datetime) -> int:
        delta = t.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    out = [(since, offset(since))]
    t = since
    while t < until:
        n = min(t + timedelta(days=1), until)
        if offset(n) != out[-1][1]:
            lo, hi = t, n
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == out[-1][1] else (lo, mid)
            out.append((hi.replace(microsecond=0), offset(hi)))
        t = n
    return out


def local_buckets(since: datetime, until: datetime, zone: ZoneInfo, unit: Unit) -> list[str]:
    """Every local hour or day touched by [since, until), in order."""
    fmt = "%Y-%m-%d" if unit == "day" else "%Y-%m-%d %H"
    step = timedelta(hours=1) if unit == "day" else timedelta(minutes=15)
    out: list[str] = []
    t = since
    while t < until:
        key = t.astimezone(zone).strftime(fmt)
        if not out or out[-1] != key:
            out.append(key)
        t += step
    last = (until - timedelta(microseconds=1)).astimezone(zone).strftime(fmt)
    if until > since and out[-1] != last:
        out.append(last)
    return list(dict.fromkeys(out))


def hours_observed(since: datetime, until: datetime, zone: ZoneInfo) -> list[int]:
    """How many local hours of each hour of the day (0-23) [since, until) touches."""
    counts = [0] * 24
    for key in local_buckets(since, until, zone, "hour"):
        counts[int(key[-2:])] += 1
    return counts
