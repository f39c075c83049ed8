"""SQL building blocks shared by the reports, on SQLite and PostgreSQL: durations in seconds,
local-time bucketing, and count/sum/mean/percentile statistics per group (the package docstring
says how percentiles and local time are computed on each backend)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, case, cast, func, literal, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from voicebot.reports.model import EMPTY_STATS, Stats, Unit
from voicebot.reports.periods import as_float, utc_offsets
from voicebot.store.schema import UtcDateTime


@dataclass(frozen=True)
class Db:
    """One database the reports read, its dialect, and the FAQ entry -> topic map."""

    engine: Engine
    entry_topics: Mapping[str, str] = field(default_factory=dict)

    @property
    def pg(self) -> bool:
        """Whether the database is PostgreSQL (else SQLite)."""
        return self.engine.dialect.name == "postgresql"

    def seconds(self, end: Any, start: Any) -> ColumnElement[float]:
        """end - start in seconds (NULL when either is NULL)."""
        if self.pg:
            return cast(func.extract("epoch", end - start), Float)
        return (func.julianday(end) - func.julianday(start)) * 86400.0

    def local_key(
        self, column: Any, zone: ZoneInfo, since: datetime, until: datetime, unit: Unit
    ) -> ColumnElement[str]:
        """The local hour ("YYYY-MM-DD HH") or day ("YYYY-MM-DD") of a stored UTC time."""
        if self.pg:
            fmt = "YYYY-MM-DD" if unit == "day" else "YYYY-MM-DD HH24"
            return func.to_char(func.timezone(zone.key, column), fmt)
        fmt = "%Y-%m-%d" if unit == "day" else "%Y-%m-%d %H"
        return func.strftime(fmt, column, sqlite_shift(column, zone, since, until))

    def local_hour(
        self, column: Any, zone: ZoneInfo, since: datetime, until: datetime
    ) -> ColumnElement[int]:
        """The local hour of the day (0-23) of a stored UTC time."""
        if self.pg:
            return cast(func.extract("hour", func.timezone(zone.key, column)), Integer)
        return cast(func.strftime("%H", column, sqlite_shift(column, zone, since, until)), Integer)

    def stats(self, conn: Connection, value: Any, where: Sequence[Any]) -> Stats:
        """Stats of `value` over the rows matching `where`."""
        return self.stats_by(conn, None, value, where).get(None, EMPTY_STATS)

    def stats_by(
        self, conn: Connection, key: Any, value: Any, where: Sequence[Any]
    ) -> dict[Any, Stats]:
        """Stats of `value` per `key` (None: one group) over the rows matching `where`."""
        keys = [] if key is None else [key.label("k")]
        base = select(*keys, value.label("v")).where(*where).subquery()
        v = base.c.v
        group = [] if key is None else [base.c.k]
        aggregates: list[Any] = [func.count(v), func.sum(v), func.max(v)]
        if self.pg:
            aggregates += [func.percentile_cont(p).within_group(v) for p in (0.5, 0.95)]
        query = select(*group, *aggregates).where(v.is_not(None)).group_by(*group)
        found: dict[Any, list[Any]] = {}
        for row in conn.execute(query):
            k = row[0] if group else None
            found[k] = list(row[len(group) :])
        if not self.pg:
            quantiles = self._sqlite_percentiles(conn, base, bool(group), (0.5, 0.95))
            for k, values in found.items():
                values += [quantiles.get((k, p)) for p in (0.5, 0.95)]
        out = {}
        for k, (n, total, top, p50, p95) in found.items():
            n = int(n)
            if n == 0:
                continue
            out[k] = Stats(
                n, float(total), float(total) / n, as_float(p50), as_float(p95), as_float(top)
            )
        return out

    def _sqlite_percentiles(
        self, conn: Connection, base: Any, grouped: bool, ps: Sequence[float]
    ) -> dict[tuple[Any, float], float]:
        """percentile_cont per group: rank the values in SQL, fetch only the two ranks needed."""
        part = [base.c.k] if grouped else []
        ranked = (
            select(
                *(part or [literal(None).label("k")]),
                base.c.v,
                func.row_number().over(partition_by=part or None, order_by=base.c.v).label("rn"),
                func.count().over(partition_by=part or None).label("n"),
            )
            .where(base.c.v.is_not(None))
            .subquery()
        )
        wanted = []
        for p in ps:
            lo = cast(literal(p, Float) * (ranked.c.n - 1), Integer) + 1
            wanted += [ranked.c.rn == lo, ranked.c.rn == lo + 1]
        rows = conn.execute(
            select(ranked.c.k, ranked.c.rn, ranked.c.n, ranked.c.v).where(or_(*wanted))
        )
        ranks: dict[Any, dict[int, float]] = defaultdict(dict)
        sizes: dict[Any, int] = {}
        for k, rn, n, v in rows:
            ranks[k][int(rn)] = float(v)
            sizes[k] = int(n)
        out = {}
        for k, got in ranks.items():
            for p in ps:
                pos = p * (sizes[k] - 1)
                rank = int(pos)
                a = got[rank + 1]
                b = got.get(rank + 2, a)
                out[(k, p)] = a + (b - a) * (pos - rank)
        return out


def bind_at(value: datetime) -> Any:
    """A UTC timestamp as a bound literal of the stored type."""
    return literal(value, UtcDateTime())


def during(column: Any, since: datetime, until: datetime) -> list[Any]:
    """`since <= column < until`."""
    return [column >= bind_at(since), column < bind_at(until)]


def counts_of(conn: Connection, query: Any) -> dict[str, int]:
    """{key: count} of a two-column query, NULL keys left out."""
    return {str(k): int(n or 0) for k, n in conn.execute(query) if k is not None}


def sqlite_shift(column: Any, zone: ZoneInfo, since: datetime, until: datetime) -> Any:
    """The strftime modifier turning a stored UTC time into local time, per offset segment."""
    segments = utc_offsets(zone, since, until)
    if len(segments) == 1:
        return literal(f"{segments[0][1]:+d} seconds")
    whens = [
        (column < bind_at(start), f"{off:+d} seconds")
        for (_, off), (start, _) in itertools.pairwise(segments)
    ]
    return case(*whens, else_=f"{segments[-1][1]:+d} seconds")
