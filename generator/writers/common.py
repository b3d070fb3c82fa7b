"""Helpers every format writer shares: file records for the manifest, CSV writing, joins."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def record(out_dir: Path, path: Path, rows: int, malformed_rows: list[dict] | None = None) -> dict:
    """One manifest entry for a file written in good faith (it may hold malformed rows)."""
    return {
        "name": path.relative_to(out_dir).as_posix(),
        "rows": int(rows),
        "malformed_rows": malformed_rows or [],
    }


def write_csv(path: Path, df: pl.DataFrame, raw_after: dict[int, str] | None = None) -> None:
    """Write ``df`` as CSV (header + rows); ``raw_after[i]`` is a raw text line inserted after
    data row ``i`` (0-based; -1 = right after the header), for rows a DataFrame cannot hold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw_after = raw_after or {}
    # an empty value is written as nothing, not as a quoted empty string
    df = df.with_columns(pl.col(pl.Utf8).replace("", None))
    with open(path, "wb") as fh:
        fh.write((",".join(df.columns) + "\n").encode())
        start = 0
        for i in sorted(raw_after):
            part = df.slice(start, i + 1 - start)
            if part.height:
                part.write_csv(fh, include_header=False)
            fh.write((raw_after[i] + "\n").encode())
            start = i + 1
        rest = df.slice(start)
        if rest.height:
            rest.write_csv(fh, include_header=False)


def add_loc(df: pl.DataFrame, locs: pl.DataFrame, on: str, prefix: str) -> pl.DataFrame:
    cols = ["locode", "city", "subdivision", "country", "time_zone", "postcode"]
    sel = locs.select(
        pl.col("loc_idx").cast(pl.Int64).alias(on), *[pl.col(c).alias(f"{prefix}{c}") for c in cols]
    )
    return df.join(sel, on=on, how="left", maintain_order="left")


def stringify(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.all().cast(pl.Utf8))


def dec(expr: pl.Expr, places: int = 2) -> pl.Expr:
    """A decimal rendered with exactly ``places`` digits ('12.50'), never in exponent form."""
    scaled = (expr * 10**places).round(0).cast(pl.Int64)
    if places == 0:
        return scaled.cast(pl.Utf8)
    sign = pl.when(scaled < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    a = scaled.abs()
    return pl.concat_str(
        sign,
        (a // 10**places).cast(pl.Utf8),
        pl.lit("."),
        (a % 10**places).cast(pl.Utf8).str.zfill(places),
    )
