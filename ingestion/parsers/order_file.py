"""Order files: the bulk-import template as CSV, XLSX or Parquet, or API-style JSON.

CSV goes through DuckDB's reader (``csv_file``); the other three are small by nature (a
customer's upload, an API page) and are read with polars into strings.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ingestion.parsers.base import MalformedFileError, ParsedFile, Reject
from ingestion.parsers.csv_file import normalise_header
from ingestion.parsers.json_file import as_text, read_json

LINE_FIELDS = (
    "line_number",
    "sku",
    "quantity",
    "unit_price",
    "unit_cost",
    "weight_kg",
    "volume_m3",
)


def _as_strings(
    df: pl.DataFrame, path: Path, required: list[str], first_row: int, unit: str
) -> ParsedFile:
    df = df.rename({c: normalise_header(c) for c in df.columns})
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise MalformedFileError(
            path,
            "header",
            f"required column(s) {', '.join(missing)} missing; found: {', '.join(df.columns[:12])}",
        )
    df = df.select(pl.all().cast(pl.Utf8))
    df = df.with_columns(
        _row_number=pl.int_range(first_row, first_row + df.height, dtype=pl.Int64),
    ).with_columns(_position=pl.lit(f"{unit} ") + pl.col("_row_number").cast(pl.Utf8))
    return ParsedFile(rows=df, rows_read=df.height)


def parse_xlsx(path: Path, required: list[str]) -> ParsedFile:
    try:
        df = pl.read_excel(path, infer_schema_length=0)
    except Exception as exc:  # fastexcel raises its own types for every kind of bad workbook
        raise MalformedFileError(path, "file", f"not a readable XLSX workbook ({exc})") from exc
    # Sheet rows: the header is row 1, so data starts at row 2, as Excel shows it.
    return _as_strings(df, path, required, 2, "sheet row")


def parse_parquet(path: Path, required: list[str]) -> ParsedFile:
    try:
        df = pl.read_parquet(path)
    except Exception as exc:
        raise MalformedFileError(path, "file", f"not a readable Parquet file ({exc})") from exc
    return _as_strings(df, path, required, 1, "record")


def parse_json(path: Path, required: list[str]) -> ParsedFile:
    """A JSON array of orders, each with order-level fields and a ``lines`` array."""
    doc = read_json(path)
    if isinstance(doc, dict) and isinstance(doc.get("orders"), list):
        doc = doc["orders"]
    if not isinstance(doc, list):
        raise MalformedFileError(
            path,
            "top level",
            'expected a JSON array of orders (or {"orders": [...]}), '
            f"found a {type(doc).__name__}",
        )
    columns: dict[str, list] = {}
    row_numbers, positions, rejects = [], [], []
    n = 0
    for i, order in enumerate(doc):
        lines = order.get("lines") if isinstance(order, dict) else None
        if not isinstance(lines, list) or not lines:
            n += 1
            rejects.append(
                Reject(
                    row_number=n,
                    position=f"$[{i}]",
                    rule="an order must be an object with a non-empty 'lines' array",
                    record=json.dumps(order)[:2000],
                )
            )
            continue
        header = {k: v for k, v in order.items() if k != "lines"}
        for j, line in enumerate(lines):
            n += 1
            if not isinstance(line, dict):
                rejects.append(
                    Reject(
                        row_number=n,
                        position=f"$[{i}].lines[{j}]",
                        rule="an order line must be a JSON object",
                        record=json.dumps(line)[:2000],
                    )
                )
                continue
            record = header | line
            for key in set(columns) | set(record):
                columns.setdefault(key, [None] * len(row_numbers)).append(as_text(record.get(key)))
            row_numbers.append(n)
            positions.append(f"$[{i}].lines[{j}]")
    df = pl.DataFrame({k: pl.Series(k, v, dtype=pl.Utf8) for k, v in columns.items()})
    missing = [c for c in required if c not in df.columns] if df.height else []
    if missing:
        raise MalformedFileError(
            path, "$[0]", f"orders lack required field(s) {', '.join(missing)}"
        )
    df = (
        df.with_columns(
            _row_number=pl.Series(row_numbers, dtype=pl.Int64),
            _position=pl.Series(positions, dtype=pl.Utf8),
        )
        if df.height
        else df
    )
    return ParsedFile(rows=df, rows_read=n, rejects=rejects)
