"""The warehouse's raw and meta schemas: created from the feed contracts, idempotently."""

from __future__ import annotations

import duckdb

from ingestion.contracts import FEEDS, Feed

META_DDL = """
create schema if not exists raw;
create schema if not exists meta;
create sequence if not exists meta.load_id_seq start 1;
create table if not exists meta.load_log (
    load_id bigint primary key,
    run_id varchar,
    feed varchar not null,
    source_file varchar not null,
    file_sha256 varchar not null,
    file_bytes bigint,
    status varchar not null,          -- LOADED, LOADED_WITH_QUARANTINE, FAILED, SKIPPED (a copy)
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    error varchar,                    -- for FAILED: what is wrong with the file
    notes varchar,
    started_at timestamp not null,    -- UTC
    finished_at timestamp not null    -- UTC
);
create table if not exists meta.quarantine (
    load_id bigint not null,
    feed varchar not null,
    source_file varchar not null,
    file_sha256 varchar not null,
    row_number bigint,                -- 0 for a file-level failure
    position varchar not null,        -- "line 17", "segment 45 (AT7)", "events[3]", "file"
    field varchar,
    value varchar,
    rule varchar not null,
    reason varchar not null,          -- one sentence a person can act on
    record varchar,                   -- the raw record (or its fields as JSON)
    quarantined_at timestamp not null
);
"""


def raw_table_ddl(feed: Feed) -> str:
    cols = ",\n    ".join(f'"{name}" varchar' for name in feed.field_names)
    return (
        f"create table if not exists raw.{feed.table} (\n    {cols},\n"
        "    _source_file varchar not null,\n    _row_number bigint not null,\n"
        "    _file_sha256 varchar not null,\n    _loaded_at timestamp not null,\n"
        "    _load_id bigint not null\n)"
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create raw.* (one table per feed, every contract field as varchar) and meta.*."""
    con.execute(META_DDL)
    # Added after the first release: the file's modification time when it was read, so a later
    # run recognises an unchanged file by (path, size, mtime) without reading it again.
    con.execute("alter table meta.load_log add column if not exists file_mtime_ns bigint")
    for feed in FEEDS.values():
        con.execute(raw_table_ddl(feed))
