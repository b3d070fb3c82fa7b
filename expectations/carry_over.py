"""Nothing new, nothing validated again: carry a suite's outcome over while its table receives no
new load.

A suite with ``rows_of`` (the raw ``contract`` suites) depends only on the rows and columns of
that one table, and on the clock only through expectations marked ``clock="heals"`` (an event
time "not in the future": a pass stays a pass as time goes on, a failure may heal). So when

* the suite's definition is the one last evaluated (:func:`definition_hash`: the query with its
  sample size, every expectation with its arguments and severity, the id columns, the engine,
  the DuckDB and GX versions),
* the table is in the state it was then (:func:`table_state`: its columns, row count and the
  largest and summed ``_load_id``; a load, a re-load after a deletion or rows deleted by hand
  all change it), and
* every ``clock="heals"`` expectation passed then (a failure is checked again: it may have
  healed),

validating again would find what the last completed evaluation found. Its outcome is then
stored again for this run (``meta.dq_results``, ``note`` = "carried over from run ..."): the
publish gate and the dashboard see the same verdict, a failing contract stays failing until the
table changes. Everything else runs every time: the ``delivery`` suites (last delivery and
freshness: the clock moves), the mart suites, a suite whose last evaluation raised or was
skipped.

``meta.dq_evaluations`` keeps, per suite, its last completed evaluation (outcome as JSON, the
definition hash and table state it was made from). Not detected: rows changed in place by an
``update`` outside the loader (row count and load ids stay); the ``data_quality`` job, ``waybill
run --full-refresh`` and ``WAYBILL_DQ_CARRY_OVER=0`` validate everything again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import duckdb

from expectations.core import (
    ExpectationOutcome,
    Suite,
    SuiteOutcome,
    max_rows,
    missing_tables,
    run_suite_safely,
    utc_now,
)

#: Bump when the way outcomes are computed or stored changes without a suite changing.
CARRY_OVER_VERSION = 1

EVALUATIONS_DDL = """
create schema if not exists meta;
create table if not exists meta.dq_evaluations (
    asset varchar not null,
    check_name varchar not null,
    run_id varchar,                   -- the run that validated (null outside Dagster)
    evaluated_at timestamp not null,  -- UTC
    definition_hash varchar not null, -- expectations.carry_over.definition_hash
    table_state varchar not null,     -- expectations.carry_over.table_state
    load_id bigint,                   -- the newest _load_id in the table then (0: empty)
    outcome varchar not null          -- JSON: rows_validated and the expectation outcomes
);
"""


def enabled() -> bool:
    """``WAYBILL_DQ_CARRY_OVER=0`` (or false/no/off) validates every suite in every run."""
    return os.environ.get("WAYBILL_DQ_CARRY_OVER", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def carryable(suite: Suite) -> bool:
    return suite.rows_of is not None and not any(e.clock == "breaks" for e in suite.expectations)


@cache
def _versions() -> str:
    try:
        gx = version("great_expectations")
    except PackageNotFoundError:  # pragma: no cover - GX is a dependency
        gx = "?"
    return f"duckdb {duckdb.__version__}; great_expectations {gx}"


def _canonical(value):
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    return value


def definition_hash(suite: Suite) -> str:
    """Everything that decides the suite's outcome on given rows, hashed."""
    definition = {
        "carry_over_version": CARRY_OVER_VERSION,
        "versions": _versions() if suite.engine == "gx" else f"duckdb {duckdb.__version__}",
        "asset": suite.asset,
        "name": suite.name,
        "sql": suite.sql.format(max_rows=max_rows()),
        "expectations": [
            [e.type, _canonical(e.kwargs), e.severity, e.clock] for e in suite.expectations
        ],
        "id_columns": list(suite.id_columns),
        "requires": list(suite.requires),
        "rows_of": suite.rows_of,
        "engine": suite.engine,
    }
    text = json.dumps(definition, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def table_state(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, int] | None:
    """(state, newest _load_id) of a raw table, from its columns, its row count and the largest
    and summed ``_load_id`` (one pass over one integer column); None when the table does not
    exist or has no ``_load_id``."""
    if missing_tables(con, (table,)):
        return None
    schema, name = table.split(".", 1)
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()
    if "_load_id" not in {c for c, _ in columns}:
        return None
    rows, newest, total = con.execute(
        f"select count(*), coalesce(max(_load_id), 0), coalesce(sum(_load_id), 0) from {table}"
    ).fetchall()[0]
    shape = hashlib.sha256(json.dumps(columns).encode()).hexdigest()[:12]
    return f"rows {rows}; max _load_id {newest}; sum _load_id {total}; columns {shape}", newest


def ensure_evaluations_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(EVALUATIONS_DDL)


def record(
    con: duckdb.DuckDBPyConnection,
    outcome: SuiteOutcome,
    run_id: str | None,
    definition: str,
    state: tuple[str, int],
) -> None:
    """Keep ``outcome`` as the suite's last completed evaluation (replacing the one before)."""
    suite = outcome.suite
    ensure_evaluations_table(con)
    payload = {
        "rows_validated": outcome.rows_validated,
        "outcomes": [asdict(o) for o in outcome.outcomes],
    }
    con.execute(
        "delete from meta.dq_evaluations where asset = ? and check_name = ?",
        [suite.asset, suite.name],
    )
    con.execute(
        "insert into meta.dq_evaluations values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            suite.asset,
            suite.name,
            run_id,
            utc_now(),
            definition,
            state[0],
            state[1],
            json.dumps(payload, default=str),
        ],
    )


def carried(
    con: duckdb.DuckDBPyConnection, suite: Suite, definition: str, state: tuple[str, int]
) -> SuiteOutcome | None:
    """The last completed evaluation's outcome, when it still holds (see the module's doc)."""
    ensure_evaluations_table(con)
    row = con.execute(
        """select run_id, evaluated_at, definition_hash, table_state, load_id, outcome
        from meta.dq_evaluations where asset = ? and check_name = ?
        order by evaluated_at desc limit 1""",
        [suite.asset, suite.name],
    ).fetchall()
    if not row:
        return None
    run_id, evaluated_at, old_definition, old_state, load_id, payload = row[0]
    if old_definition != definition or old_state != state[0]:
        return None
    data = json.loads(payload)
    outcomes = [ExpectationOutcome(**o) for o in data["outcomes"]]
    if [o.expectation for o in outcomes] != [e.label for e in suite.expectations]:
        return None
    for item, o in zip(suite.expectations, outcomes):
        if o.error is not None or (item.clock is not None and not o.passed):
            return None  # a failure measured against the clock may have healed: look again
    source = f"run {run_id}" if run_id else "the evaluation"
    since = f"since load_id {load_id}" if load_id else "yet"
    note = (
        f"carried over from {source} of {evaluated_at:%Y-%m-%d %H:%M:%S} UTC: "
        f"no new load into {suite.rows_of} {since}"
    )
    return SuiteOutcome(suite, outcomes, rows_validated=data["rows_validated"], carried_over=note)


def evaluate(
    con: duckdb.DuckDBPyConnection, suite: Suite, run_id: str | None, carry: bool = True
) -> SuiteOutcome:
    """The suite's outcome for this run: carried over when nothing it depends on changed (and
    ``carry``), else :func:`run_suite_safely`, remembered for the next run when it completed."""
    if not carryable(suite):
        return run_suite_safely(con, suite)
    # The state before validating: a load during the validation makes the next run look again.
    state = table_state(con, suite.rows_of)
    if state is None:
        return run_suite_safely(con, suite)
    definition = definition_hash(suite)
    if carry:
        outcome = carried(con, suite, definition, state)
        if outcome is not None:
            return outcome
    outcome = run_suite_safely(con, suite)
    if outcome.completed:
        record(con, outcome, run_id, definition, state)
    return outcome
