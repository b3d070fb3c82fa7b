"""Judge a small frame without Great Expectations: the few expectation types a suite with
``engine="python"`` may use, with GX's semantics and result shape.

Why: importing GX and building its context costs about 4 s per process. The ``delivery`` suites
(last delivery and freshness, over ``meta.load_log``: a few rows per feed) must run in every
pipeline run, because the clock moves; with the contract suites carried over while no new load
arrives (``expectations/carry_over.py``) they were the only reason a run with nothing new still
imported GX. They judge a handful of rows with three simple expectations, so they are judged
here, and ``tests/test_check_carry_over.py`` checks that GX says the same on the same frames
(success, counts, percentages, failing sample).

Semantics (GX 1.x, ``mostly`` = 1): column values that are null (None or NaN) are ignored;
a column expectation fails when one non-null value is unexpected; an empty frame, or a column
without any non-null value, passes. ``unexpected_percent`` is relative to the non-null values.
Bounds are inclusive. The first 10 failing rows are kept with the suite's ``id_columns`` (GX
keeps the rows' positions in the frame when a suite has none; so does this module).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import duckdb

from expectations.core import (
    Expect,
    Suite,
    SuiteOutcome,
    judged,
    max_rows,
)

PARTIAL = 10

#: type -> the keyword arguments this module understands for it
SUPPORTED: dict[str, frozenset[str]] = {
    "expect_table_row_count_to_be_between": frozenset({"min_value", "max_value"}),
    "expect_column_values_to_be_in_set": frozenset({"column", "value_set"}),
    "expect_column_values_to_not_be_in_set": frozenset({"column", "value_set"}),
    "expect_column_values_to_be_between": frozenset({"column", "min_value", "max_value"}),
}


def unsupported(item: Expect) -> str | None:
    """Why this module cannot judge ``item`` (None: it can)."""
    allowed = SUPPORTED.get(item.type)
    if allowed is None:
        return f"{item.type} (not implemented here)"
    extra = set(item.kwargs) - allowed
    if extra:
        return f"{item.label} with {', '.join(sorted(extra))}"
    if item.type == "expect_column_values_to_be_between" and not (
        {"min_value", "max_value"} & {k for k, v in item.kwargs.items() if v is not None}
    ):
        return f"{item.label} without bounds"
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _within(value: Any, low: Any, high: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise TypeError(f"{value!r} is not a number")
    return (low is None or value >= low) and (high is None or value <= high)


def _unexpected_test(item: Expect) -> Callable[[Any], bool]:
    kw = item.kwargs
    if item.type == "expect_column_values_to_be_in_set":
        allowed = set(kw["value_set"])
        return lambda v: v not in allowed
    if item.type == "expect_column_values_to_not_be_in_set":
        refused = set(kw["value_set"])
        return lambda v: v in refused
    low, high = kw.get("min_value"), kw.get("max_value")
    return lambda v: not _within(v, low, high)


def _column_result(
    item: Expect, columns: list[str], rows: list[tuple], ids: list[str]
) -> tuple[bool, dict]:
    column = item.kwargs["column"]
    if column not in columns:
        raise KeyError(f"column {column!r} is not in the frame ({', '.join(columns)})")
    at = columns.index(column)
    id_at = [columns.index(c) for c in ids]
    element_count = len(rows)
    test = _unexpected_test(item)
    nonnull = sum(1 for r in rows if not _missing(r[at]))
    bad = [n for n, r in enumerate(rows) if not _missing(r[at]) and test(r[at])]
    success = element_count == 0 or nonnull == 0 or not bad
    percent = len(bad) / nonnull * 100 if element_count and nonnull else None
    shown = bad[:PARTIAL]
    result: dict[str, Any] = {
        "element_count": element_count,
        "unexpected_count": len(bad),
        "unexpected_percent": percent,
        "partial_unexpected_list": [rows[n][at] for n in shown],
        # GX: the failing rows' id columns, or without id columns their positions in the frame
        "partial_unexpected_index_list": [
            {column: rows[n][at]} | {c: rows[n][i] for c, i in zip(ids, id_at)} for n in shown
        ]
        if ids
        else shown,
    }
    return success, result


def judge(item: Expect, columns: list[str], rows: list[tuple], ids: list[str]) -> tuple[bool, dict]:
    """(success, GX-shaped result dict) of one expectation on a frame given as rows."""
    if item.type == "expect_table_row_count_to_be_between":
        low, high = item.kwargs.get("min_value"), item.kwargs.get("max_value")
        return _within(len(rows), low, high), {"observed_value": len(rows)}
    return _column_result(item, columns, rows, ids)


def run_native(con: duckdb.DuckDBPyConnection, suite: Suite) -> SuiteOutcome:
    """:func:`expectations.core.run_suite` for ``engine="python"`` (tables exist: checked)."""
    cursor = con.execute(suite.sql.format(max_rows=max_rows()))
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    ids = [c for c in suite.id_columns if c in columns]
    outcomes = []
    for item in suite.expectations:
        error = None
        try:
            success, info = judge(item, columns, rows, ids)
        except Exception as exc:  # noqa: BLE001 - like GX: this expectation errs, others judge
            success, info, error = False, {}, f"{type(exc).__name__}: {exc}"[:500]
        outcomes.append(judged(suite, item, success, info, error))
    return SuiteOutcome(suite, outcomes, rows_validated=len(rows))
