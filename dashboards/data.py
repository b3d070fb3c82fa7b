"""Every query the dashboard runs, against the published snapshot only.

Each call opens the snapshot read-only, runs one query and closes it again, so the pipeline can
rename a new snapshot into place at any time (STYLE.md: no connection held open).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from ingestion.db import frame
from ingestion.load import LOAD_SUMMARY_SQL
from waybill.settings import load_settings


def snapshot_path() -> Path:
    return load_settings().snapshot


def query(sql: str, params: list | None = None, snapshot: Path | None = None) -> pl.DataFrame:
    path = snapshot or snapshot_path()
    con = duckdb.connect(str(path), read_only=True)
    try:
        return frame(con, sql, params)
    finally:
        con.close()


def has_snapshot(snapshot: Path | None = None) -> bool:
    return (snapshot or snapshot_path()).exists()


def snapshot_info(snapshot: Path | None = None) -> dict | None:
    df = query("select run_id, published_at, tables from meta.snapshot_info", snapshot=snapshot)
    return df.row(0, named=True) if df.height else None


def load_summary(snapshot: Path | None = None) -> pl.DataFrame:
    return query(LOAD_SUMMARY_SQL, snapshot=snapshot)


def quarantine_by_reason(snapshot: Path | None = None) -> pl.DataFrame:
    return query(
        """select feed, rule, field, count(*) as rows, any_value(reason) as example_reason,
                  any_value(regexp_replace(source_file, '^.*/landing/', '') || ' @ ' || position)
                      as example_position
        from meta.quarantine group by feed, rule, field order by rows desc""",
        snapshot=snapshot,
    )


def failed_files(snapshot: Path | None = None) -> pl.DataFrame:
    return query(
        """select feed, regexp_replace(source_file, '^.*/landing/', '') as file, error, finished_at
        from meta.load_log
        where status = 'FAILED' order by feed, source_file""",
        snapshot=snapshot,
    )


def published_tables(snapshot: Path | None = None) -> pl.DataFrame:
    return query(
        """select schema_name as schema, table_name, estimated_size as rows
        from duckdb_tables() where schema_name <> 'meta' order by 1, 2""",
        snapshot=snapshot,
    )
