"""Suites as data, run with Great Expectations over frames DuckDB computes.

A :class:`Suite` is one data-quality check on one asset: a DuckDB query that produces the frame to
validate (raw rows, a sample of them, or an aggregate such as one row per carrier) and a list of
:class:`Expect` items, each a Great Expectations expectation named by its snake-case type with
its arguments and a severity. Severity lives here, in the definition:

- ``error``: a failure means the data must not be published. The Dagster check built from the
  suite is *blocking* and the publish step does not run (dashboards keep the last snapshot);
- ``warn``: a failure is recorded and shown, the run goes on.

:func:`run_suite` validates a suite with an ephemeral GX context (nothing written to disk) and
returns one :class:`ExpectationOutcome` per expectation; ``expectations.results`` stores them in
``meta.dq_results``. A suite on a small frame may be judged without GX (``engine="python"``,
``expectations/native.py``: the same results for the few expectation types it knows), so a run
whose other suites are carried over (``expectations/carry_over.py``) never imports GX. No
Dagster import here: ``orchestration/defs/quality.py`` wraps suites as asset checks.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal

import duckdb

from ingestion.db import frame

Severity = Literal["error", "warn"]
#: How an expectation that measures against the clock (``now()``) can change while the data
#: stays the same: ``heals`` (a failure may turn into a pass as time passes, a pass stays a pass,
#: e.g. "not in the future") or ``breaks`` (a pass may turn into a failure: freshness).
Clock = Literal["heals", "breaks"]
#: ``gx``: validated by Great Expectations; ``python``: judged by ``expectations/native.py``.
Engine = Literal["gx", "python"]

#: Beyond this many rows a row-level suite validates a repeatable reservoir sample (the loader
#: already checked every row against its contract; GX is the second opinion and the
#: distribution check). Set WAYBILL_DQ_MAX_ROWS to change it.
DEFAULT_MAX_ROWS = 100_000


def max_rows() -> int:
    return int(os.environ.get("WAYBILL_DQ_MAX_ROWS", DEFAULT_MAX_ROWS))


@dataclass(frozen=True)
class Expect:
    """One GX expectation: ``type`` as GX names it (``expect_column_values_to_not_be_null``),
    its keyword arguments, its severity and one sentence saying what it protects."""

    type: str
    kwargs: dict[str, Any]
    severity: Severity = "error"
    why: str = ""
    #: None when the outcome depends on the frame alone; see :data:`Clock`
    clock: Clock | None = None

    @property
    def label(self) -> str:
        """A short stable name for results: the type and the column(s) it looks at."""
        cols = [str(self.kwargs[k]) for k in ("column", "column_A", "column_B") if k in self.kwargs]
        short = self.type.removeprefix("expect_")
        return f"{short}({', '.join(cols)})" if cols else short

    @property
    def threshold(self) -> str:
        """The arguments that decide pass or fail, as text (value sets abbreviated)."""
        shown = {}
        for key, value in self.kwargs.items():
            if key in ("column", "column_A", "column_B"):
                continue
            if isinstance(value, list | tuple | set | frozenset) and len(value) > 12:
                value = f"{len(value)} values"
            elif isinstance(value, list | tuple | set | frozenset):
                value = sorted(value)
            shown[key] = value
        return json.dumps(shown, default=str, sort_keys=True)


def expect(
    type: str,
    severity: Severity = "error",
    why: str = "",
    clock: Clock | None = None,
    **kwargs: Any,
) -> Expect:
    return Expect(type=type, kwargs=kwargs, severity=severity, why=why, clock=clock)


@dataclass(frozen=True)
class Suite:
    """One check: the frame to validate and what must hold on it."""

    #: the check name, unique per asset (e.g. ``contract``, ``milestone_mapping_coverage``)
    name: str
    #: the Dagster asset key as a path: ``raw/orders``, ``marts/fct_shipment_events``
    asset: str
    description: str
    #: DuckDB SQL over the warehouse producing the frame; ``{max_rows}`` is filled in
    sql: str
    expectations: tuple[Expect, ...]
    #: columns naming a failing row in the stored sample (e.g. carrier_code, source_file)
    id_columns: tuple[str, ...] = ()
    #: tables the query reads; a suite whose table does not exist yet is skipped (reported)
    requires: tuple[str, ...] = ()
    #: what a person should do when the suite fails (docs/data-quality.md shows it)
    remedy: str = ""
    #: a query returning one number recorded in meta.dq_metrics after each evaluation (the
    #: row-count trend compares the current value with the trailing mean of earlier runs)
    metric_sql: str | None = None
    #: the one table whose rows alone (with the clock, for expectations marked ``clock``) decide
    #: the outcome: while it receives no new load the last completed evaluation's outcome is
    #: carried over instead of validating again (``expectations/carry_over.py``). Must have a
    #: ``_load_id`` column. None: the suite runs every time.
    rows_of: str | None = None
    #: who judges the frame: Great Expectations, or ``expectations/native.py`` (small frames,
    #: only the expectation types it knows; checked when the suite is defined)
    engine: Engine = "gx"

    def __post_init__(self) -> None:
        if self.engine == "python":
            from expectations.native import unsupported

            problems = [p for e in self.expectations if (p := unsupported(e))]
            if problems:
                raise ValueError(f"{self.key}: engine 'python' cannot judge {'; '.join(problems)}")

    @property
    def severity(self) -> Severity:
        """``error`` if any expectation is an error (the check is then blocking)."""
        return "error" if any(e.severity == "error" for e in self.expectations) else "warn"

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    @property
    def key(self) -> str:
        return f"{self.asset}:{self.name}"


@dataclass
class ExpectationOutcome:
    check_name: str
    asset: str
    expectation: str
    severity: Severity
    passed: bool
    observed_value: str | None
    threshold: str
    failing_sample: list[dict] = field(default_factory=list)
    error: str | None = None


@dataclass
class SuiteOutcome:
    suite: Suite
    outcomes: list[ExpectationOutcome]
    rows_validated: int = 0
    skipped: str | None = None  # why the suite did not run (a table does not exist yet)
    #: not validated again: "carried over from run ..." (``expectations/carry_over.py``)
    carried_over: str | None = None

    @property
    def completed(self) -> bool:
        """The suite ran to the end: not skipped, and no expectation (or the whole suite)
        raised instead of judging."""
        return not self.skipped and all(o.error is None for o in self.outcomes)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failed_severity(self) -> Severity | None:
        failed = [o for o in self.outcomes if not o.passed]
        if not failed:
            return None
        return "error" if any(o.severity == "error" for o in failed) else "warn"

    @property
    def blocks_publication(self) -> bool:
        return self.failed_severity == "error"


@cache
def _batch_definition():
    """One ephemeral GX context per process, with one pandas dataframe asset."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # progress bars are cosmetic; never fail a check over them
        pass
    source = context.data_sources.add_pandas("waybill")
    asset = source.add_dataframe_asset("frames")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def _gx_class(type_name: str):
    import great_expectations as gx

    camel = "".join(part.capitalize() for part in type_name.split("_"))
    return getattr(gx.expectations, camel)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _observed(result: dict) -> str | None:
    if "observed_value" in result:
        return json.dumps(_jsonable(result["observed_value"]), default=str)
    if "unexpected_count" in result:
        return json.dumps(
            {
                "rows": result.get("element_count"),
                "unexpected": result.get("unexpected_count"),
                "unexpected_percent": round(result.get("unexpected_percent") or 0.0, 4),
            }
        )
    return None


def _sample(result: dict, limit: int = 10) -> list[dict]:
    rows = result.get("partial_unexpected_index_list")
    if rows:
        return [_jsonable(r) for r in rows[:limit]]
    values = result.get("partial_unexpected_list")
    if values:
        return [{"value": _jsonable(v)} for v in values[:limit]]
    return []


#: meta key of each GX expectation: its position in the suite
_INDEX = "waybill_index"


def _exception(info: dict | None) -> str | None:
    """The message of the exception GX caught for one expectation, if any: ``info`` is either
    one ``{"raised_exception", "exception_message", ...}`` or, when a metric failed, such dicts
    keyed by the metric."""
    if not info:
        return None
    parts = [info] if "raised_exception" in info else list(info.values())
    for part in parts:
        if isinstance(part, dict) and part.get("raised_exception"):
            return str(part.get("exception_message"))[:500]
    return None


def missing_tables(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> list[str]:
    have = {
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database()"
        ).fetchall()
    }
    return [t for t in tables if t not in have]


def run_suite(con: duckdb.DuckDBPyConnection, suite: Suite) -> SuiteOutcome:
    """Compute the suite's frame in DuckDB and validate it with Great Expectations (or judge it
    in Python, for ``engine="python"``)."""
    missing = missing_tables(con, suite.requires)
    if missing:
        return SuiteOutcome(suite, [], skipped=f"table(s) {', '.join(missing)} do not exist yet")
    con.execute("set enable_progress_bar = false")
    if suite.engine == "python":
        from expectations.native import run_native

        return run_native(con, suite)
    import great_expectations as gx

    df = frame(con, suite.sql.format(max_rows=max_rows())).to_pandas()
    batch_definition = _batch_definition()  # creates the context GX needs for a suite
    gx_suite = gx.ExpectationSuite(name=suite.key)
    for index, item in enumerate(suite.expectations):
        gx_suite.add_expectation(_gx_class(item.type)(**item.kwargs, meta={_INDEX: index}))
    ids = [c for c in suite.id_columns if c in df.columns]
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
    if ids:
        result_format["unexpected_index_column_names"] = ids
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    validation = batch.validate(gx_suite, result_format=result_format)
    outcomes = []
    # GX lists the results of expectations whose metrics raised (a column missing from the
    # frame) first: put them back in definition order by the index each one carries.
    results = sorted(validation.results, key=lambda r: r.expectation_config.meta[_INDEX])
    for item, res in zip(suite.expectations, results, strict=True):
        outcomes.append(
            judged(suite, item, bool(res.success), res.result or {}, _exception(res.exception_info))
        )
    return SuiteOutcome(suite, outcomes, rows_validated=len(df))


def judged(
    suite: Suite, item: Expect, success: bool, info: dict, error: str | None
) -> ExpectationOutcome:
    """One expectation's outcome from its result (``info`` in GX's result shape), whoever
    judged it (GX or expectations/native.py)."""
    return ExpectationOutcome(
        check_name=suite.name,
        asset=suite.asset,
        expectation=item.label,
        severity=item.severity,
        passed=success and error is None,
        observed_value=_observed(info) if error is None else None,
        threshold=item.threshold,
        failing_sample=_sample(info),
        error=error,
    )


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def run_suite_safely(con: duckdb.DuckDBPyConnection, suite: Suite) -> SuiteOutcome:
    """:func:`run_suite`, but a suite that cannot run (its query broke because a model changed,
    GX raised) is a failed check with the error, at the suite's severity, and the other suites
    still run: an unknown state of an error-severity check blocks publication like a failure."""
    try:
        return run_suite(con, suite)
    except Exception as exc:  # noqa: BLE001 - reported in meta.dq_results, never swallowed
        return SuiteOutcome(
            suite,
            [
                ExpectationOutcome(
                    check_name=suite.name,
                    asset=suite.asset,
                    expectation="(suite could not run)",
                    severity=suite.severity,
                    passed=False,
                    observed_value=None,
                    threshold="{}",
                    error=f"{type(exc).__name__}: {exc}"[:1000],
                )
            ],
        )
