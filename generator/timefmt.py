"""Vectorised UTC -> local time helpers (one pass per IANA zone, not per row)."""

from __future__ import annotations

import numpy as np
import polars as pl


def from_epoch(seconds: np.ndarray) -> pl.Series:
    """Epoch seconds as float (NaN = missing) -> naive UTC Datetime series."""
    s = pl.Series(np.asarray(seconds, dtype=np.float64)).fill_nan(None).round(0).cast(pl.Int64)
    return pl.from_epoch(s, time_unit="s")


def with_local(df: pl.DataFrame, ts: str, tz: str, out: str) -> pl.DataFrame:
    """Add ``out`` (naive local wall time) and ``out + '_offset'`` ('+HH:MM') for naive-UTC ``ts``
    in the IANA zone named by column ``tz``."""
    df = df.with_row_index("_ri")
    parts = []
    for zone in df[tz].unique().drop_nulls().sort().to_list():
        parts.append(
            df.filter(pl.col(tz) == zone).select(
                "_ri",
                pl.col(ts)
                .dt.replace_time_zone("UTC")
                .dt.convert_time_zone(zone)
                .dt.replace_time_zone(None)
                .alias(out),
            )
        )
    local = pl.concat(parts).sort("_ri") if parts else pl.DataFrame({"_ri": [], out: []})
    df = df.join(local, on="_ri", how="left").sort("_ri").drop("_ri")
    off = (pl.col(out) - pl.col(ts)).dt.total_seconds()
    return df.with_columns(offset_expr(off).alias(out + "_offset"))


def offset_expr(seconds: pl.Expr) -> pl.Expr:
    a = seconds.abs()
    return pl.concat_str(
        pl.when(seconds < 0).then(pl.lit("-")).otherwise(pl.lit("+")),
        (a // 3600).cast(pl.Int64).cast(pl.Utf8).str.zfill(2),
        pl.lit(":"),
        ((a % 3600) // 60).cast(pl.Int64).cast(pl.Utf8).str.zfill(2),
    )


def iso_offset(local: str, offset: str) -> pl.Expr:
    """'YYYY-MM-DDTHH:MM:SS+HH:MM' from a naive local column and its offset column."""
    return pl.concat_str(pl.col(local).dt.strftime("%Y-%m-%dT%H:%M:%S"), pl.col(offset))


def iso_utc(ts: str) -> pl.Expr:
    return pl.col(ts).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
