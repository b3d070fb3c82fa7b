"""Small DuckDB helpers shared by the loader, the CLI and the dashboard."""

from __future__ import annotations

import duckdb
import polars as pl


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run one query and return all of its rows as a polars frame (the result is consumed, so
    the connection is free for the next statement; DuckDB 2 refuses work on a connection with
    an unfinished result)."""
    return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
