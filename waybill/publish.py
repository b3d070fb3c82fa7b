"""Publish the snapshot dashboards and analysts read: copy, then rename into place.

DuckDB allows one writer or many readers per file, and a reader blocks the writer. So readers
never touch the warehouse: they open ``serving/waybill.duckdb``, which is written under a
temporary name and renamed over the old one. A rename is atomic on one filesystem, so a reader
sees the old snapshot or the new one, never half of each; a crash before the rename leaves the
last good snapshot where it was.
"""

from __future__ import annotations

import os
import shutil
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


#: Incremental marts (dbt_project/macros/incremental.sql) with the column and the
#: int_keys_changed key type their rows are recomputed by; staging tables go by _business_key.
CHANGED_KEY_TABLES = {
    ("marts", "fct_shipment_events"): ("carrier_shipment_ref", "REF"),
    ("marts", "fct_shipment_milestones"): ("shipment_id", "SHIPMENT"),
    ("marts", "fct_shipments"): ("shipment_id", "SHIPMENT"),
}


def _copy_changed_rows(con: duckdb.DuckDBPyConnection, schema: str, table: str, since: int) -> bool:
    """In an incremental publish, bring snap.<schema>.<table> up to date by replacing only the
    rows the last build recomputed; False when the table is not incremental (copy it whole)."""
    target, source = f'snap."{schema}"."{table}"', f'"{schema}"."{table}"'
    if (schema, table) in CHANGED_KEY_TABLES:
        column, key_type = CHANGED_KEY_TABLES[schema, table]
        changed = (
            f"coalesce({column}, '') in (select key_value from intermediate.int_keys_changed "
            f"where key_type = '{key_type}' and build_load_id > {since})"
        )
    elif schema == "staging":
        # a key's row changes only when a row for it arrived: it won (a newer _load_id) or it
        # lost (one more _versions_received)
        con.execute(
            f"""create or replace temp table _changed_keys as
            select _business_key from {source} where _load_id > {since}
            union
            select s._business_key from {source} as s
            join {target} as p on s._business_key = p._business_key
            where s._versions_received > 1 and s._versions_received <> p._versions_received"""
        )
        changed = "_business_key in (select _business_key from _changed_keys)"
    else:
        return False
    con.execute(f"delete from {target} where {changed}")
    con.execute(f"insert into {target} by name select * from {source} where {changed}")
    return True


def publish_snapshot(
    con: duckdb.DuckDBPyConnection,
    snapshot: Path,
    run_id: str | None = None,
    since: int | None = None,
) -> dict:
    """Copy the published schemas from the warehouse connection ``con`` into ``snapshot``.

    ``since`` (waybill.build_state.publish_since): the published snapshot is the build that
    included loads up to ``since`` and the warehouse's last build was incremental from it. Then
    the snapshot is copied as a file and only the rows the build recomputed are replaced in
    the incremental tables; the other tables are copied whole."""
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    # A publish killed before its rename leaves its temporary file (and DuckDB's .wal beside
    # it) behind: remove them (one publish at a time runs, in the warehouse pool).
    for stale in snapshot.parent.glob(f".{snapshot.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.tmp")
    incremental = since is not None and snapshot.exists()
    if incremental:
        shutil.copyfile(snapshot, tmp)
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
        if incremental:
            previous = set(
                con.execute(
                    "select schema_name, table_name from duckdb_tables() "
                    "where database_name = 'snap'"
                ).fetchall()
            )
            for schema, table in previous - set(tables):
                con.execute(f'drop table snap."{schema}"."{table}"')
        for schema in sorted({s for s, _ in tables}):
            con.execute(f'create schema if not exists snap."{schema}"')
        for schema, table in tables:
            if not (
                incremental
                and (schema, table) in previous
                and _copy_changed_rows(con, schema, table, since)
            ):
                con.execute(
                    f'create or replace table snap."{schema}"."{table}" as '
                    f'select * from "{schema}"."{table}"'
                )
            counts[f"{schema}.{table}"] = con.execute(
                f'select count(*) from snap."{schema}"."{table}"'
            ).fetchall()[0][0]
        con.execute("create schema if not exists snap.meta")
        con.execute(
            "create or replace table snap.meta.snapshot_info as select ?::varchar as run_id, "
            "?::timestamp as published_at, ?::bigint as tables",
            [run_id, published_at, len(tables)],
        )
    finally:
        con.execute("detach snap")
    os.replace(tmp, snapshot)
    return {
        "published_at": published_at.isoformat(),
        "tables": len(tables),
        "row_counts": counts,
        "incremental": incremental,
    }


def read_snapshot(snapshot: Path) -> duckdb.DuckDBPyConnection:
    """A short-lived read-only connection to the published snapshot. Close it after use."""
    return duckdb.connect(str(snapshot), read_only=True)
