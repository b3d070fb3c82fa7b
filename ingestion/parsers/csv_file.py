"""Delimited text files (CSV and friends) read by DuckDB's own reader and sniffer.

DuckDB finds the delimiter and quoting; rows with the wrong number of fields are captured by
its ``store_rejects`` machinery and come back as :class:`Reject` with their line number, so a
ragged line is reported instead of silently shifted or dropped.
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from ingestion.contracts import MAX_CSV_LINE_BYTES
from ingestion.parsers.base import MalformedFileError, ParsedFile, Reject

_SNIFF_BYTES = 1 << 20


def detect_encoding(path: Path) -> str:
    """The DuckDB encoding name for a file: from its BOM, else UTF-8 if it decodes, else Latin-1.

    A byte-order mark is authoritative; without one, a file that is valid UTF-8 in its first
    megabyte is read as UTF-8 and anything else as Latin-1 (which never fails to decode, so a
    wrong guess shows up as odd characters in the quarantine, not as lost rows).
    """
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 1 MB window is not evidence of another encoding.
        if exc.start < len(head) - 4:
            return "latin-1"
    return "utf-8"


_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")


def _needs_record_map(path: Path) -> bool:
    """True if records and physical lines may differ: quotes (a value may hold a newline) or
    blank lines (DuckDB counts them as records but returns no row for them)."""
    with open(path, "rb") as fh:
        tail = b""
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            block = tail + chunk
            if b'"' in chunk or _BLANK_LINE.search(block):
                return True
            tail = block[-4:]
    return False


def record_start_lines(path: Path, encoding: str) -> tuple[list[int], set[int]]:
    """Physical start line of every record (1-based, the header is record 1) and the set of
    blank records, counted the way DuckDB's reader counts them."""
    starts, blank, previous = [], set(), 0
    with open(
        path, newline="", encoding=encoding.replace("latin-1", "latin_1"), errors="replace"
    ) as fh:
        reader = csv.reader(fh)
        for row in reader:
            starts.append(previous + 1)
            if not row:
                blank.add(len(starts))
            previous = reader.line_num
    return starts, blank


#: What a column name looks like: the contract's names and what spreadsheets make of them.
_HEADER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .()-]{0,63}")


def normalise_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_")


def read_csv(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    required: list[str],
    known: list[str],
    target: str = "_incoming",
) -> ParsedFile:
    """Read ``path`` into the temp table ``target`` (all varchar, contract column names).

    Returns a ParsedFile whose ``rows`` is empty: the rows stay inside DuckDB (``target``) for
    speed; ``rows_read`` counts accepted + rejected data lines. ``target`` gets the columns in
    ``known`` that the file has, plus ``_row_number`` (file line, header = 1) and ``_position``.
    """
    if path.stat().st_size == 0:
        raise MalformedFileError(path, "file", "the file is empty (0 bytes); send it again")
    encoding = detect_encoding(path)
    if encoding != "utf-16":
        with open(path, "rb") as fh:
            nul = fh.read(_SNIFF_BYTES).find(b"\x00")
        if nul >= 0:
            raise MalformedFileError(
                path,
                f"byte {nul}",
                "binary content (a NUL byte): this is not a text file; export it as CSV",
            )
    con.execute("drop table if exists _csv_rejects_scan; drop table if exists _csv_rejects")
    src = str(path).replace("'", "''")
    try:
        con.execute(
            f"""
            create or replace temp table _csv_read as
            select * from read_csv('{src}', all_varchar = true, header = true,
                encoding = '{encoding}', store_rejects = true,
                rejects_scan = '_csv_rejects_scan', rejects_table = '_csv_rejects',
                null_padding = false, strict_mode = true,
                max_line_size = {MAX_CSV_LINE_BYTES})
            """
        )
    except duckdb.Error as exc:
        # Only the first line of DuckDB's message: the rest quotes the offending line whole.
        first = str(exc).strip().splitlines()[0]
        if "Maximum line size" in str(exc):
            raise MalformedFileError(
                path,
                "file",
                f"a line is longer than {MAX_CSV_LINE_BYTES >> 20} MiB, the limit for one CSV "
                "line: check the file is line-delimited text, or split very long values",
            ) from exc
        raise MalformedFileError(
            path, "file", f"not a readable delimited text file ({first})"
        ) from exc
    columns = [
        c for (c,) in con.execute("select name from pragma_table_info('_csv_read')").fetchall()
    ]
    mapping = {normalise_header(c): c for c in columns}
    missing = [c for c in required if c not in mapping]
    if missing:
        if all(_HEADER_NAME.fullmatch(c) for c in columns):
            shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
            seen = f"the header has: {shown}"
        else:
            # Not column names (a wrong file, or data where the header should be): say so
            # without quoting the line, which may be anything the file holds.
            seen = f"the first line does not read as column names ({len(columns)} field(s))"
        raise MalformedFileError(
            path,
            "line 1 (header)",
            f"required column(s) {', '.join(missing)} missing; {seen}. "
            "Check the delimiter and the template's column names (docs/feeds.md).",
        )
    notes = []
    extra = [c for c in columns if normalise_header(c) not in known]
    if extra:
        notes.append(f"ignored column(s) not in the contract: {', '.join(extra[:10])}")
    if encoding != "utf-8":
        notes.append(f"read as {encoding}")

    rejects_rows = con.execute(
        "select line, error_type, csv_line, error_message from _csv_rejects order by line"
    ).fetchall()
    # DuckDB reports one reject per error; a line with several errors must count once.
    seen: dict[int, Reject] = {}
    for line, error_type, csv_line, message in rejects_rows:
        if line in seen:
            continue
        seen[int(line)] = Reject(
            row_number=int(line),
            position=f"line {line}",
            rule=f"{error_type.lower()}: {message}; every line needs exactly {len(columns)} "
            f"fields separated like the header",
            record=csv_line,
        )
    n_accepted = con.execute("select count(*) from _csv_read").fetchall()[0][0]
    # Accepted rows come back in file order. DuckDB numbers records (header = 1), which are the
    # physical lines unless a quoted value spans lines or a line is blank: then map records to
    # the line they start on, so every position points where an editor would.
    total = n_accepted + len(seen)
    if _needs_record_map(path):
        starts, blank = record_start_lines(path, encoding)
        records = [k for k in range(2, len(starts) + 1) if k not in blank and k not in seen]
        if len(records) == n_accepted:
            lines = np.array([starts[k - 1] for k in records], dtype=np.int64)
            for record, reject in list(seen.items()):
                if record <= len(starts):
                    reject.row_number = starts[record - 1]
                    reject.position = f"line {reject.row_number}"
        else:  # the two readers disagree: keep DuckDB's record numbers, and say so
            lines = np.array(records[:n_accepted] or [], dtype=np.int64)
            notes.append("positions are record numbers (the file has multi-line values)")
    else:
        lines = np.arange(2, total + 2, dtype=np.int64)
        if seen:
            lines = lines[~np.isin(lines, np.fromiter(seen, dtype=np.int64))]
    line_numbers = pl.DataFrame(
        {"_ord": np.arange(n_accepted, dtype=np.int64), "_row_number": lines[:n_accepted]}
    )
    con.register("_csv_lines", line_numbers)
    select = ", ".join(f'"{mapping[c]}" as "{c}"' for c in known if c in mapping)
    con.execute(
        f"""
        create or replace temp table {target} as
        with numbered as (select *, rowid as _ord from _csv_read)
        select {select}, l._row_number, 'line ' || l._row_number as _position
        from numbered
        inner join _csv_lines as l using (_ord)
        order by l._row_number
        """
    )
    con.unregister("_csv_lines")
    con.execute("drop table if exists _csv_read")
    return ParsedFile(
        rows=pl.DataFrame(), rows_read=total, rejects=list(seen.values()), notes=notes
    )
