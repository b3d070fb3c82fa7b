"""CSV feeds (with planted malformed rows), the order file family and the ECB FX file."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from generator import world as W
from generator.writers.common import record, write_csv

#: a malformed copy of a real row, breaking exactly one contract rule: (field, value, rule)
Breaker = tuple[str, str, str]


def plant_rows(
    df: pl.DataFrame, breakers: list[Breaker], rng: np.random.Generator
) -> tuple[pl.DataFrame, list[dict]]:
    """Insert, right after a random real row, a copy with one field broken; return the frame
    and the planted rows' CSV line numbers (header = line 1)."""
    if df.height == 0 or not breakers:
        return df, []
    src = np.sort(rng.choice(df.height, size=min(len(breakers), df.height), replace=False))
    order = np.arange(df.height) * 2
    copies = []
    for (field, value, _), i in zip(breakers, src):
        copies.append(df.slice(int(i), 1).with_columns(pl.lit(value, dtype=pl.Utf8).alias(field)))
    out = pl.concat(
        [
            df.with_columns(pl.Series("_o", order)),
            pl.concat(copies).with_columns(pl.Series("_o", src * 2 + 1)),
        ]
    ).sort("_o")
    pos = np.searchsorted(out["_o"].to_numpy(), src * 2 + 1)
    planted = [{"row_number": int(p) + 2, "rule": b[2]} for p, b in zip(pos, breakers)]
    return out.drop("_o"), planted


def write_csv_feed(
    out_dir: Path,
    folder: str,
    df: pl.DataFrame,
    stem: str,
    chunk: int,
    breakers: list[Breaker],
    rng: np.random.Generator,
    wrong_columns: bool = False,
) -> list[dict]:
    """Write ``df`` (contract columns as strings) in files of ``chunk`` rows; malformed rows go
    into the first file."""
    recs = []
    n_files = max(1, -(-df.height // chunk))
    for k in range(n_files):
        part = df.slice(k * chunk, chunk)
        planted, raw = [], {}
        if k == 0:
            part, planted = plant_rows(part, breakers, rng)
            if wrong_columns and part.height:
                raw[part.height - 1] = ",".join(["BAD"] * (len(df.columns) - 2))
                planted.append(
                    {
                        "row_number": part.height + 2,
                        "rule": f"line has {len(df.columns) - 2} columns, header has {len(df.columns)}",
                    }
                )
        path = out_dir / folder / (f"{stem}.csv" if n_files == 1 else f"{stem}_{k + 1:04d}.csv")
        write_csv(path, part, raw)
        recs.append(record(out_dir, path, part.height + len(raw), planted))
    return recs


def write_orders(
    out_dir: Path,
    folder: str,
    rows: pl.DataFrame,
    chunk: int,
    small: bool,
    breakers: list[Breaker],
    rng: np.random.Generator,
) -> list[dict]:
    """Order lines: CSV template (chunked); small runs also spread orders over XLSX, Parquet
    and API-style JSON (each order in exactly one file)."""
    recs = []
    if small:
        oid = rows["order_id"]
        bucket = (oid.str.slice(2).cast(pl.Int64) % 10).to_numpy()
        fmt = np.select([bucket == 7, bucket == 8, bucket == 9], ["xlsx", "parquet", "json"], "csv")
        rows = rows.with_columns(pl.Series("_fmt", fmt))
        other = rows.filter(pl.col("_fmt") != "csv")
        rows = rows.filter(pl.col("_fmt") == "csv").drop("_fmt")
        x = other.filter(pl.col("_fmt") == "xlsx").drop("_fmt")
        if x.height:
            from datetime import datetime

            import xlsxwriter

            path = out_dir / folder / "orders_template.xlsx"
            path.parent.mkdir(parents=True, exist_ok=True)
            wb = xlsxwriter.Workbook(str(path))
            wb.set_properties({"created": datetime(2026, 10, 31)})  # reproducible bytes
            ws = wb.add_worksheet("orders")
            ws.write_row(0, 0, x.columns)
            for r, row in enumerate(x.iter_rows(), start=1):
                ws.write_row(r, 0, row)
            wb.close()
            recs.append(record(out_dir, path, x.height))
        p = other.filter(pl.col("_fmt") == "parquet").drop("_fmt")
        if p.height:
            path = out_dir / folder / "orders_export.parquet"
            p.write_parquet(path, statistics=False)
            recs.append(record(out_dir, path, p.height))
        j = other.filter(pl.col("_fmt") == "json").drop("_fmt")
        if j.height:
            line_cols = [
                "line_number",
                "sku",
                "quantity",
                "unit_price",
                "unit_cost",
                "weight_kg",
                "volume_m3",
            ]
            head_cols = [c for c in j.columns if c not in line_cols]
            docs = []
            for key, g in j.group_by(head_cols, maintain_order=True):
                d = dict(zip(head_cols, key))
                d["lines"] = [
                    {
                        "line_number": int(r["line_number"]),
                        "sku": r["sku"],
                        "quantity": int(r["quantity"]),
                        "unit_price": float(r["unit_price"]),
                        "unit_cost": float(r["unit_cost"]),
                        "weight_kg": float(r["weight_kg"]),
                        "volume_m3": float(r["volume_m3"]),
                    }
                    for r in g.iter_rows(named=True)
                ]
                docs.append(d)
            path = out_dir / folder / "orders_api.json"
            path.write_text(json.dumps(docs, indent=1) + "\n")
            recs.append(record(out_dir, path, j.height))
    recs = (
        write_csv_feed(out_dir, folder, rows, "orders", chunk, breakers, rng, wrong_columns=True)
        + recs
    )
    return recs


# ---------------------------------------------------------------- FX
def target_holidays(year: int) -> set[date]:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month = (h + ll - 7 * m + 114) // 31
    day = (h + ll - 7 * m + 114) % 31 + 1
    easter = date(year, month, day)
    return {
        date(year, 1, 1),
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        date(year, 5, 1),
        date(year, 12, 25),
        date(year, 12, 26),
    }


def write_fx(out_dir: Path, folder: str, rng: np.random.Generator) -> tuple[list[dict], dict]:
    start, end = W.FX_START, W.AS_OF.date()
    hol = target_holidays(start.year) | target_holidays(end.year)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    days = [d for d in days if d.weekday() < 5 and d not in hol]
    # a couple of business days the ECB file simply lacks (the pipeline carries rates forward)
    missing = sorted(days[i] for i in rng.choice(np.arange(10, len(days) - 1), 2, replace=False))
    days = [d for d in days if d not in missing]
    published = [c for c in W.ECB_COLUMNS if c not in W.ECB_DISCONTINUED]
    n = len(days)
    steps = rng.normal(0, 0.004, (n, len(published)))
    walk = np.exp(np.cumsum(steps, axis=0))
    lines = ["Date," + ",".join(W.ECB_COLUMNS) + ","]
    cells = 0
    bad_rows = []
    # the ECB quotes 4 significant-ish decimals; big-unit currencies fewer
    for r in range(n - 1, -1, -1):
        vals = []
        for _ci, cur in enumerate(W.ECB_COLUMNS):
            if cur in W.ECB_DISCONTINUED:
                vals.append("N/A")
                continue
            v = W.EUR_RATES[cur] * walk[r, published.index(cur)]
            dp = 4 if v < 10 else (3 if v < 100 else 2)
            vals.append(f"{v:.{dp}f}")
            cells += 1
        lines.append(days[r].isoformat() + "," + ",".join(vals) + ",")
    path = out_dir / folder / "eurofxref-hist.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    rec = record(out_dir, path, cells, bad_rows)
    return [rec], {
        "first_date": days[0].isoformat(),
        "last_date": days[-1].isoformat(),
        "publication_days": n,
        "missing_business_days": [d.isoformat() for d in missing],
        "published_currencies": published,
    }
