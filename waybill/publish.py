"""Publish the snapshot dashboards and analysts read: copy, then rename into place.

DuckDB allows one writer or many readers per file, and a reader blocks the writer. So readers
never touch the warehouse: they open ``serving/waybill.duckdb``, which is written under a
temporary name and renamed over the old one. A rename is atomic on one filesystem, so a reader
sees the old snapshot or the new one, never half of each; a crash before the rename leaves the
last good snapshot where it was.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

#: Schemas copied into the snapshot. raw.* and intermediate.* stay behind: analysts use staging
#: and marts (intermediate views would be re-computed into tables at every publish), and the
#: quarantine and load log (meta) are what the data-quality pages show.
PUBLISHED_SCHEMAS = ("staging", "marts", "reference", "meta")
#: Intermediate models analysts and finance need as they are: the per carrier x source x code
#: counts of mapped and UNKNOWN events (which codes a mapping seed is missing), and the FX trail
#: of every converted amount the finance marts roll up (each landed-cost component allocated
#: to an order line, each customer invoice line: original amount, currency, rate, rate date).
PUBLISHED_INTERMEDIATE = (
    "int_event_codes_counted",
    "int_landed_costs_allocated",
    "int_customer_invoice_lines_converted",
)


def publish_snapshot(
    con: duckdb.DuckDBPyConnection, snapshot: Path, run_id: str | None = None
) -> dict:
    """Copy the published schemas from the warehouse connection ``con`` into ``snapshot``."""
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    # A publish killed before its rename leaves its temporary file (and DuckDB's .wal beside
    # it) behind: remove them (one publish at a time runs, in the warehouse pool).
    for stale in snapshot.parent.glob(f".{snapshot.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.tmp")
    tables = con.execute(
        f"""select table_schema, table_name from information_schema.tables
        where table_catalog = current_database()
          and (table_schema in ({", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)})
            or (table_schema = 'intermediate'
                and table_name in ({", ".join(f"'{t}'" for t in PUBLISHED_INTERMEDIATE)})))
        order by 1, 2"""
    ).fetchall()
    published_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute(f"attach '{tmp}' as snap")
    try:
        counts = {}
        for schema in sorted({s for s, _ in tables}):
            con.execute(f'create schema if not exists snap."{schema}"')
        for schema, table in tables:
            con.execute(
                f'create table snap."{schema}"."{table}" as select * from "{schema}"."{table}"'
            )
            counts[f"{schema}.{table}"] = con.execute(
                f'select count(*) from snap."{schema}"."{table}"'
            ).fetchall()[0][0]
        con.execute("create schema if not exists snap.meta")
        con.execute(
            "create table snap.meta.snapshot_info as select ?::varchar as run_id, "
            "?::timestamp as published_at, ?::bigint as tables",
            [run_id, published_at, len(tables)],
        )
    finally:
        con.execute("detach snap")
    os.replace(tmp, snapshot)
    return {"published_at": published_at.isoformat(), "tables": len(tables), "row_counts": counts}


def read_snapshot(snapshot: Path) -> duckdb.DuckDBPyConnection:
    """A short-lived read-only connection to the published snapshot. Close it after use."""
    return duckdb.connect(str(snapshot), read_only=True)
