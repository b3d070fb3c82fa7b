"""Where check results live: ``meta.dq_results`` (one row per expectation per evaluation) and
``meta.dq_metrics`` (numbers remembered between runs, e.g. row counts for the trend check).

Both are in the ``meta`` schema, which the publish step copies into the snapshot, so the
dashboard can show data-quality history. When a blocking failure stops publication, the
results of that run are also written to ``serving/dq_results.parquet`` (replaced atomically) so
the failure is visible to readers of the serving folder while the snapshot stays as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from expectations.core import SuiteOutcome, utc_now

DQ_DDL = """
create schema if not exists meta;
create table if not exists meta.dq_results (
    check_name varchar not null,      -- the suite, e.g. contract, milestone_mapping_coverage
    asset varchar not null,           -- raw/orders, marts/fct_shipment_events
    expectation varchar not null,     -- e.g. column_values_to_not_be_null(order_id); '-' if skipped
    run_id varchar,                   -- the Dagster run (null outside Dagster)
    checked_at timestamp not null,    -- UTC
    passed boolean not null,
    severity varchar not null,        -- error (blocks publication) or warn
    blocking boolean not null,        -- true when this failed row stopped publication
    observed_value varchar,           -- JSON: what was measured
    threshold varchar,                -- JSON: the arguments that decide pass or fail
    failing_sample varchar,           -- JSON array: up to 10 failing rows or values
    rows_validated bigint,
    note varchar                      -- skipped because ..., the error GX raised, or
                                      -- carried over from run ... (no new load)
);
create table if not exists meta.dq_metrics (
    metric varchar not null,          -- e.g. row_count:marts.fct_shipments
    run_id varchar,
    measured_at timestamp not null,
    value double
);
"""


def ensure_dq_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DQ_DDL)


def store(con: duckdb.DuckDBPyConnection, outcome: SuiteOutcome, run_id: str | None) -> list[tuple]:
    """Append the suite's outcome to meta.dq_results; returns the rows written. An outcome
    carried over from an earlier run (``expectations/carry_over.py``) is stored for this run
    with the earlier findings and ``note`` saying where they come from."""
    ensure_dq_tables(con)
    now = utc_now()
    suite = outcome.suite
    rows: list[tuple] = []
    if outcome.skipped:
        rows.append(
            (suite.name, suite.asset, "-", run_id, now, True, suite.severity, False)
            + (None, None, None, 0, f"skipped: {outcome.skipped}")
        )
    for o in outcome.outcomes:
        rows.append(
            (
                o.check_name,
                o.asset,
                o.expectation,
                run_id,
                now,
                o.passed,
                o.severity,
                (not o.passed) and o.severity == "error",
                o.observed_value,
                o.threshold,
                json.dumps(o.failing_sample, default=str) if o.failing_sample else None,
                outcome.rows_validated,
                o.error or outcome.carried_over,
            )
        )
    if rows:
        # One statement for all rows: DuckDB's executemany runs one insert per row (slow).
        marks = ", ".join(["(" + ", ".join(["?"] * len(rows[0])) + ")"] * len(rows))
        con.execute(f"insert into meta.dq_results values {marks}", [v for r in rows for v in r])
    if suite.metric_sql and not outcome.skipped:
        value = con.execute(suite.metric_sql).fetchall()[0][0]
        con.execute(
            "insert into meta.dq_metrics values (?, ?, ?, ?)",
            [f"row_count:{suite.asset}", run_id, now, value],
        )
    return rows


def blocking_failures(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple]:
    """(asset, check, expectation, observed) of the run's failed error-severity expectations."""
    ensure_dq_tables(con)
    return con.execute(
        """select asset, check_name, expectation, observed_value from meta.dq_results
        where run_id = ? and blocking order by asset, check_name, expectation""",
        [run_id],
    ).fetchall()


def export_results(con: duckdb.DuckDBPyConnection, serving_dir: Path) -> Path:
    """Write meta.dq_results to serving/dq_results.parquet (temporary name, then rename)."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    target = serving_dir / "dq_results.parquet"
    tmp = serving_dir / f".dq_results.{os.getpid()}.tmp.parquet"
    con.execute(
        f"copy (select * from meta.dq_results order by checked_at, asset, check_name) "
        f"to '{str(tmp).replace(chr(39), chr(39) * 2)}' (format parquet)"
    )
    os.replace(tmp, target)
    return target
