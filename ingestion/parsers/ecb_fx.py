"""ECB euro reference rates in the ``eurofxref-hist.csv`` layout, turned long.

The layout: a ``Date`` column, one column per currency, ``N/A`` where the ECB published no rate
that day, and a trailing comma on every line (hence an empty last column). One loaded row is one
published (date, currency) rate; ``N/A`` and empty cells are not rates and are not rows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.parsers.base import MalformedFileError, ParsedFile
from ingestion.parsers.csv_file import read_csv


def parse(path: Path, con: duckdb.DuckDBPyConnection, target: str = "_incoming") -> ParsedFile:
    with path.open("rb") as fh:
        head = fh.read(4096).decode("utf-8", "replace").lstrip("\ufeff")
    header = [h.strip() for h in head.splitlines()[0].split(",")] if head else []
    if not header or header[0].lower() != "date":
        raise MalformedFileError(
            path,
            "line 1 (header)",
            "expected the ECB eurofxref-hist.csv layout: a header starting with 'Date' "
            "followed by currency codes",
        )
    currencies = [h for h in header[1:] if h]
    parsed = read_csv(
        path,
        con,
        required=["date"],
        known=["date", *[c.lower() for c in currencies]],
        target="_fx_wide",
    )
    cols = [c.lower() for c in currencies]
    unions = " union all ".join(
        f"select date as rate_date, '{c.upper()}' as currency, \"{c}\" as rate_per_eur, "
        f"_row_number, _position || ', column {c.upper()}' as _position from _fx_wide "
        f"where nullif(trim(\"{c}\"), '') is not null and upper(trim(\"{c}\")) <> 'N/A'"
        for c in cols
    )
    con.execute(f"create or replace temp table {target} as {unions}")
    cells = con.execute(f"select count(*) from {target}").fetchall()[0][0]
    con.execute("drop table if exists _fx_wide")
    parsed.rows_read = cells + len(parsed.rejects)
    # The ECB's trailing comma makes an empty, unnamed last column: not worth a note.
    parsed.notes = [n for n in parsed.notes if not n.startswith("ignored column")]
    parsed.notes.append(f"{len(cols)} currency columns")
    return parsed
