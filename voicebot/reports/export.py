"""Reports as JSON-ready data and as CSV tables."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any, get_args, get_type_hints


def to_json(report: object) -> Any:
    """The report as JSON-ready data (datetimes as ISO 8601, mappings as objects)."""
    if is_dataclass(report) and not isinstance(report, type):
        return {f.name: to_json(getattr(report, f.name)) for f in fields(report)}
    if isinstance(report, Mapping):
        return {str(k): to_json(v) for k, v in report.items()}
    if isinstance(report, tuple | list):
        return [to_json(v) for v in report]
    if isinstance(report, datetime):
        return report.isoformat()
    if isinstance(report, float) and not math.isfinite(report):
        return None
    return report


def csv_rows(report: object) -> list[list[Any]]:
    """A header and rows: the report's `rows` table if it has one, else name/value pairs.
    Nested stats and mappings become dotted columns ("handle.p95", "outcomes.abandoned")."""
    table = getattr(report, "rows", None)
    if isinstance(table, tuple):
        flat = [_flatten("", row) for row in table]
        header = [name for name, _ in flat[0]] if flat else _header(type(report))
        return [header, *[[value for _, value in row] for row in flat]]
    return [["name", "value"], *[[n, v] for n, v in _flatten("", report)]]


def to_csv(report: object) -> str:
    """The report as CSV text (csv_rows)."""
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(report))
    return out.getvalue()


def _header(report_type: type) -> list[str]:
    """The columns of an empty `rows` table, from the row type (mappings: their field name)."""

    def names(prefix: str, cls: Any) -> list[str]:
        if not (isinstance(cls, type) and is_dataclass(cls)):
            return [prefix.rstrip(".")]
        hints = get_type_hints(cls)
        return [n for f in fields(cls) for n in names(f"{prefix}{f.name}.", hints[f.name])]

    row_type = get_args(get_type_hints(report_type)["rows"])[0]
    return names("", row_type)


def _flatten(prefix: str, value: object) -> list[tuple[str, Any]]:
    if is_dataclass(value) and not isinstance(value, type):
        items: Iterable[tuple[str, object]] = (
            (f.name, getattr(value, f.name)) for f in fields(value)
        )
    elif isinstance(value, Mapping):
        items = ((str(k), v) for k, v in value.items())
    else:
        if isinstance(value, tuple):
            value = " ".join(str(v) for v in value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        return [(prefix.rstrip("."), "" if value is None else value)]
    out: list[tuple[str, Any]] = []
    for name, item in items:
        if isinstance(item, tuple) and item and is_dataclass(item[0]):
            continue  # a nested table: only in JSON
        out += _flatten(f"{prefix}{name}.", item)
    return out
