"""Load landing files into ``raw.*``: every row loaded or quarantined, counts reconciled per file.

For each file in ``<data_dir>/landing/<feed folder>/``:

1. its SHA-256 is looked up in ``meta.load_log``; a file already loaded (same bytes, under any
   name) is skipped, so re-running a load changes nothing (a file whose path, size and
   modification time are on record is not even read again: its recorded hash is used);
2. the feed's parser turns it into string rows named after the contract (``parsers/``); a file
   that cannot be read at all is recorded as FAILED with the reason, and the next file goes on;
3. every row is checked against the contract (:func:`validate`): rows that pass go to
   ``raw.<table>`` with lineage columns, rows that fail go to ``meta.quarantine`` with the field,
   value, rule and a sentence saying what to fix;
4. the raw rows, the quarantined rows and the ``meta.load_log`` line (rows read = loaded +
   quarantined) are written in one transaction, so a crash never leaves half a file loaded.
"""

from __future__ import annotations

import errno
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from ingestion.contracts import DATE_RANGE, FEEDS, Feed, Field
from ingestion.db import frame
from ingestion.parsers import csv_file, ecb_fx, order_file
from ingestion.parsers.base import MalformedFileError, ParsedFile
from ingestion.reference import reference_values
from ingestion.warehouse import ensure_schema

INCOMING = "_incoming"

_EXAMPLES = {
    "int": "a whole number such as 12",
    "decimal": "a plain decimal with '.' and no thousands separators, such as 1234.50",
    "timestamp_tz": "ISO 8601 with a UTC offset, such as 2026-03-01T09:30:00+01:00",
    "timestamp": "ISO 8601, such as 2026-03-01T09:30:00 or 2026-03-01T09:30:00+01:00",
    "date": "an ISO 8601 date, such as 2026-03-01",
    "date8": "a date as CCYYMMDD, such as 20260301",
    "time4": "a time as HHMM or HHMMSS, such as 0930",
    "bool": "true or false",
}

_TYPE_OK = {
    "string": "true",
    "int": "regexp_full_match($V, '[+-]?[0-9]{1,18}')",
    "decimal": "regexp_full_match($V, '[+-]?([0-9]{1,14}([.][0-9]{0,6})?|[.][0-9]{1,6})')",
    "timestamp_tz": (
        r"regexp_full_match($V, '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.]\d{1,9})?)?"
        r"(Z|[+-]\d{2}(:?\d{2})?)') and try_cast($V as timestamptz) is not null"
    ),
    "timestamp": (
        r"regexp_full_match($V, '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.]\d{1,9})?)?"
        r"(Z|[+-]\d{2}(:?\d{2})?)?') and try_cast($V as timestamptz) is not null"
    ),
    "date": r"regexp_full_match($V, '\d{4}-\d{2}-\d{2}') and try_cast($V as date) is not null",
    "date8": r"regexp_full_match($V, '\d{8}') and try_strptime($V, '%Y%m%d') is not null",
    "time4": (r"regexp_full_match($V, '([01]\d|2[0-3])[0-5]\d([0-5]\d)?')"),
    "bool": "lower($V) in ('true', 'false', 't', 'f', '1', '0', 'y', 'n', 'yes', 'no')",
}


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


#: The value of a date-like field as a DATE, for the plausibility range (valid values only).
_AS_DATE = {
    "date": "cast($V as date)",
    "date8": "cast(strptime($V, '%Y%m%d') as date)",
    # the calendar date as written, whatever the offset or the session's time zone
    "timestamp": "cast(left($V, 10) as date)",
    "timestamp_tz": "cast(left($V, 10) as date)",
}


def _checks(fld: Field, date_range: tuple[str, str] = DATE_RANGE) -> list[tuple[str, str, str]]:
    """(condition that means *broken*, rule code, sentence) for one field; ``v`` is the value."""
    checks = []
    if fld.required:
        checks.append(("$V is null", "required", f"{fld.name} is required but empty"))
    if fld.type != "string":
        checks.append(
            (
                f"$V is not null and not ({_TYPE_OK[fld.type]})",
                f"type:{fld.type}",
                f"{fld.name} must be {_EXAMPLES[fld.type]}",
            )
        )
    if fld.type in _AS_DATE:
        low, high = date_range
        checks.append(
            (
                f"$V is not null and ({_TYPE_OK[fld.type]}) and {_AS_DATE[fld.type]} "
                f"not between date {_sql_str(low)} and date {_sql_str(high)}",
                "range:date",
                f"{fld.name} must be between {low} and {high} (a date outside is a typo or a "
                "placeholder such as 1900-01-01)",
            )
        )
    if fld.values is not None:
        allowed = ", ".join(_sql_str(x) for x in fld.values)
        checks.append(
            (
                f"$V is not null and $V not in ({allowed})",
                "allowed_values",
                f"{fld.name} must be one of {', '.join(fld.values)}",
            )
        )
    if fld.reference is not None:
        allowed = ", ".join(_sql_str(x) for x in sorted(reference_values(fld.reference)))
        label = {
            "currency": "an ISO 4217 currency code",
            "country": "an ISO 3166-1 alpha-2 country code",
        }
        checks.append(
            (
                f"$V is not null and $V not in ({allowed})",
                f"reference:{fld.reference}",
                f"{fld.name} must be {label[fld.reference]}",
            )
        )
    if fld.min is not None:
        cast = "bigint" if fld.type == "int" else "double"
        checks.append(
            (
                f"$V is not null and ({_TYPE_OK[fld.type]}) and cast($V as {cast}) < {fld.min}",
                f"min:{fld.min:g}",
                f"{fld.name} must be at least {fld.min:g}",
            )
        )
    return checks


def _error_list_sql(feed: Feed, date_range: tuple[str, str] = DATE_RANGE) -> str:
    items = []
    for fld in feed.fields:
        v = f"nullif(trim(\"{fld.name}\"), '')"
        for cond, rule, sentence in _checks(fld, date_range):
            items.append(
                f"case when {cond.replace('$V', v)} then {{'field': {_sql_str(fld.name)}, "
                f"'value': {v}, 'rule': {_sql_str(rule)}, 'reason': {_sql_str(sentence)}"
                f" || coalesce(' (got ''' || {v} || ''')', '')}} end"
            )
    if not items:
        return "[]"
    return f"list_filter([{', '.join(items)}], lambda x: x is not null)"


def _prepare_incoming(
    con: duckdb.DuckDBPyConnection, feed: Feed, date_range: tuple[str, str] = DATE_RANGE
) -> None:
    """Add missing optional contract columns as nulls and the per-row error list."""
    have = {
        c for (c,) in con.execute(f"select name from pragma_table_info('{INCOMING}')").fetchall()
    }
    for name in feed.field_names:
        if name not in have:
            con.execute(f'alter table {INCOMING} add column "{name}" varchar')
    con.execute(
        f"create or replace temp table _checked as "
        f"select *, {_error_list_sql(feed, date_range)} as _errors from {INCOMING}"
    )


def validate(feed: Feed | str, rows: pl.DataFrame) -> pl.DataFrame:
    """Check string rows against a feed's contract; returns them with an ``_errors`` list column.

    A convenience for tests and tools; the loader runs the same SQL inside DuckDB.
    """
    feed = FEEDS[feed] if isinstance(feed, str) else feed
    con = duckdb.connect()
    con.register("_df", rows)
    con.execute(f"create temp table {INCOMING} as select * from _df")
    _prepare_incoming(con, feed)
    return frame(con, "select * from _checked")


@dataclass
class FileResult:
    feed: str
    source_file: str
    #: LOADED, LOADED_WITH_QUARANTINE, FAILED, SKIPPED (these bytes were loaded before; a copy
    #: under a new name is logged once, naming the original), DEFERRED (the machine ran out of
    #: memory or disk: not recorded, retried by the next run) or CHANGING (the file
    #: changed while it was read: not recorded, picked up by the next run)
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    load_id: int | None = None
    seconds: float = 0.0


@dataclass
class LoadReport:
    files: list[FileResult] = field(default_factory=list)

    def by_feed(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for f in self.files:
            s = out.setdefault(
                f.feed,
                {
                    "files": 0,
                    "skipped": 0,
                    "failed": 0,
                    "rows_read": 0,
                    "rows_loaded": 0,
                    "rows_quarantined": 0,
                },
            )
            s["files"] += 1
            s["skipped"] += f.status == "SKIPPED"
            s["failed"] += f.status == "FAILED"
            for k in ("rows_read", "rows_loaded", "rows_quarantined"):
                s[k] += getattr(f, k)
        return out


def lineage_name(path: Path, landing: Path | None) -> str:
    """How a file is named in lineage (``raw.*._source_file``, ``meta.load_log``, the
    quarantine): its path relative to the data directory (``landing/<feed folder>/<file>``),
    so the warehouse, the snapshot and the exports never carry the server's absolute paths and
    stay valid when the data directory moves."""
    if landing is None:
        return str(path)
    try:
        return path.relative_to(landing.parent).as_posix()
    except ValueError:
        return path.name


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


SYMLINK_REFUSED = (
    "is a symbolic link: the loader never follows links in the landing zone (a link can point "
    "at any file on the server); copy or move the file itself into the folder"
)


def landing_entries(landing: Path, feed: Feed) -> list[Path]:
    """Entries of a feed's landing folder that match its patterns (links included, unresolved);
    dot- and underscore-files ignored. Patterns match case-insensitively: partners send
    FILE.CSV as often as file.csv."""
    folder = landing / feed.folder
    if not folder.is_dir() or _leaves(folder, landing):
        return []
    suffixes = {pat.lstrip("*").lower() for pat in feed.patterns}
    found = {p for pattern in feed.patterns for p in folder.glob(pattern)}
    found |= {p for p in folder.iterdir() if p.suffix.lower() in suffixes}
    return sorted(
        p for p in found if not p.name.startswith((".", "_")) and (p.is_symlink() or p.is_file())
    )


def _leaves(folder: Path, landing: Path) -> bool:
    """A feed folder that is a link out of the landing root is not read at all."""
    return not folder.resolve().is_relative_to(landing.resolve())


def landing_files(landing: Path, feed: Feed) -> list[Path]:
    """Regular files of a feed in its landing folder, in name order (never a symbolic link)."""
    return [p for p in landing_entries(landing, feed) if not p.is_symlink()]


def _parse(feed: Feed, path: Path, con: duckdb.DuckDBPyConnection) -> ParsedFile:
    """Run the feed's parser; afterwards the rows are in the temp table ``_incoming``."""
    required = [f.name for f in feed.fields if f.required]
    if feed.format == "csv" or (feed.format == "order_file" and path.suffix.lower() == ".csv"):
        return csv_file.read_csv(path, con, required, feed.field_names, INCOMING)
    if feed.format == "ecb_fx_csv":
        return ecb_fx.parse(path, con, INCOMING)
    if feed.format == "order_file":
        reader = {
            ".xlsx": order_file.parse_xlsx,
            ".parquet": order_file.parse_parquet,
            ".json": order_file.parse_json,
        }[path.suffix.lower()]
        parsed = reader(path, required)
    else:
        from ingestion.parsers import dcsa, parcel, x12

        reader = {
            "x12_214": x12.parse_214,
            "x12_210": x12.parse_210,
            "dcsa_json": dcsa.parse,
            "parcel_json": parcel.parse,
        }[feed.format]
        parsed = reader(path)
    df = parsed.rows
    keep = [c for c in df.columns if c in feed.field_names] + ["_row_number", "_position"]
    if df.height == 0 or "_row_number" not in df.columns:
        df = pl.DataFrame(schema={"_row_number": pl.Int64, "_position": pl.Utf8})
        keep = ["_row_number", "_position"]
    con.register("_parsed", df.select(keep))
    con.execute(f"create or replace temp table {INCOMING} as select * from _parsed")
    con.unregister("_parsed")
    return parsed


def load_file(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    path: Path,
    run_id: str | None = None,
    sha: str | None = None,
    date_range: tuple[str, str] = DATE_RANGE,
    landing: Path | None = None,
) -> FileResult:
    """Load one file in one transaction. Never raises for bad content; returns what happened.
    With ``landing``, lineage names the file relative to the data directory (lineage_name)."""
    t0 = time.perf_counter()
    started = datetime.now(UTC).replace(tzinfo=None)
    before = _stat_key(path)
    sha = sha or sha256_of(path)
    source = lineage_name(path, landing)
    load_id = con.execute("select nextval('meta.load_id_seq')").fetchall()[0][0]
    result = FileResult(feed.name, source, "LOADED", load_id=load_id)

    def failed(rule: str, position: str = "file") -> FileResult:
        return _record_failure(
            con, feed, path, sha, load_id, run_id, started, position, rule, result, t0
        )

    def unforeseen(exc: Exception, doing: str) -> FileResult:
        # A parser bug or an unforeseen shape (RecursionError included) is this file's failure,
        # never the run's: record it with the reason and move on to the next file. Only the
        # exception's first line is kept: it names the problem without quoting the file. The
        # machine running short (memory, disk) is not the file's fault: not recorded, retried.
        if _is_resource_error(exc):
            return _defer(result, exc, t0)
        return failed(f"could not be {doing} ({type(exc).__name__}: {_first_line(exc)})")

    size = before[0]
    if size > feed.max_bytes:
        return failed(
            f"the file is {size / 2**20:,.0f} MiB, over the {feed.max_bytes / 2**20:,.0f} MiB "
            f"limit for {feed.format} files: split it into smaller files (docs/feeds.md, Limits)"
        )
    try:
        parsed = _parse(feed, path, con)
    except MalformedFileError as exc:
        return failed(exc.rule, exc.position)
    except Exception as exc:  # noqa: BLE001 - the file boundary: whatever a file does, the run goes on
        return unforeseen(exc, "parsed")

    if _stat_key(path) != before:
        # Still being written (an upload in progress): load it once it has settled.
        result.status = "CHANGING"
        return result
    fields = ", ".join(f'nullif(trim("{n}"), \'\') as "{n}"' for n in feed.field_names)
    record_json = "to_json({" + ", ".join(f"'{n}': \"{n}\"" for n in feed.field_names) + "})"
    con.execute("begin transaction")
    try:
        _prepare_incoming(con, feed, date_range)
        con.execute(
            f"""insert into raw.{feed.table}
            select {fields}, ? as _source_file, _row_number, ? as _file_sha256,
                   ? as _loaded_at, ? as _load_id
            from _checked where len(_errors) = 0 order by _row_number""",
            [source, sha, started, load_id],
        )
        con.execute(
            f"""insert into meta.quarantine
            select ?, ?, ?, ?, _row_number, _position, _errors[1].field, _errors[1].value,
                   _errors[1].rule, array_to_string(list_transform(_errors, lambda x: x.reason), '; '),
                   {record_json}, ?
            from _checked where len(_errors) > 0 order by _row_number""",
            [load_id, feed.name, source, sha, started],
        )
        if parsed.rejects:
            con.executemany(
                "insert into meta.quarantine values (?, ?, ?, ?, ?, ?, ?, ?, 'structure', ?, ?, ?)",
                [
                    [
                        load_id,
                        feed.name,
                        source,
                        sha,
                        r.row_number,
                        r.position,
                        r.field,
                        r.value,
                        r.rule,
                        r.record,
                        started,
                    ]
                    for r in parsed.rejects
                ],
            )
        loaded, bad = con.execute(
            "select count(*) filter (where len(_errors) = 0), count(*) filter (where len(_errors) > 0) from _checked"
        ).fetchall()[0]
        result.rows_read = parsed.rows_read
        result.rows_loaded = loaded
        result.rows_quarantined = bad + len(parsed.rejects)
        if result.rows_read != result.rows_loaded + result.rows_quarantined:
            raise _CountMismatch(
                f"rows read {result.rows_read} != loaded {loaded} + quarantined "
                f"{result.rows_quarantined}: the parser lost track of rows; nothing of this file "
                "was loaded (report it with the file attached)"
            )
        result.status = "LOADED_WITH_QUARANTINE" if result.rows_quarantined else "LOADED"
        _write_log(
            con, feed, path, sha, load_id, run_id, started, result, "; ".join(parsed.notes) or None
        )
        con.execute("commit")
    except _CountMismatch as exc:
        con.execute("rollback")
        return failed(str(exc))
    except Exception as exc:  # noqa: BLE001 - the file boundary, as for the parser above
        con.execute("rollback")
        return unforeseen(exc, "loaded")
    result.seconds = time.perf_counter() - t0
    return result


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _is_resource_error(exc: BaseException) -> bool:
    """The machine, not the file: out of memory or disk. Such a failure is not recorded (the
    file's hash would then mark it as done for good); the file is retried by the next run."""
    if isinstance(exc, MemoryError | duckdb.OutOfMemoryException):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.ENOMEM, errno.EDQUOT)


def _defer(result: FileResult, exc: BaseException, t0: float) -> FileResult:
    result.status = "DEFERRED"
    result.error = (
        f"not loaded this run, the machine ran short ({type(exc).__name__}: {_first_line(exc)}); "
        "nothing recorded, the next run tries again"
    )
    result.seconds = time.perf_counter() - t0
    return result


def record_duplicate(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    path: Path,
    run_id: str | None,
    sha: str,
    original: tuple[str, str],
    source: str,
) -> FileResult:
    """One SKIPPED line in the load log for a byte-identical copy under a new name (a re-sent
    file): nothing of it is loaded again, and the log says which file it duplicates."""
    started = datetime.now(UTC).replace(tzinfo=None)
    load_id = con.execute("select nextval('meta.load_id_seq')").fetchall()[0][0]
    result = FileResult(feed.name, source, "SKIPPED", load_id=load_id)
    name, status = Path(original[0]).name, original[1]
    outcome = (
        "already FAILED: fix and send it under a new content"
        if status == "FAILED"
        else ("already loaded")
    )
    note = f"same bytes as {name} ({outcome}): nothing loaded again"
    _write_log(con, feed, path, sha, load_id, run_id, started, result, note)
    return result


def refuse_symlink(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    path: Path,
    run_id: str | None,
    sha: str,
    source: str,
) -> FileResult:
    """Record a link in the landing zone as FAILED without opening what it points at."""
    t0 = time.perf_counter()
    started = datetime.now(UTC).replace(tzinfo=None)
    load_id = con.execute("select nextval('meta.load_id_seq')").fetchall()[0][0]
    result = FileResult(feed.name, source, "FAILED", load_id=load_id)
    return _record_failure(
        con, feed, path, sha, load_id, run_id, started, "file", SYMLINK_REFUSED, result, t0
    )


def refuse_unreadable(con, feed, path, run_id, sha, source, exc: OSError) -> FileResult:
    """Record a file the loader may not read (permissions) as FAILED, once."""
    t0 = time.perf_counter()
    started = datetime.now(UTC).replace(tzinfo=None)
    load_id = con.execute("select nextval('meta.load_id_seq')").fetchall()[0][0]
    result = FileResult(feed.name, source, "FAILED", load_id=load_id)
    rule = (
        f"cannot be read ({type(exc).__name__}: {exc.strerror or exc}): give the loader's user "
        "read access; it is read again once it changes"
    )
    return _record_failure(con, feed, path, sha, load_id, run_id, started, "file", rule, result, t0)


class _CountMismatch(Exception):
    """Rows read != loaded + quarantined: the whole file is rolled back and reported."""


def _write_log(con, feed, path, sha, load_id, run_id, started, result, notes) -> None:
    st = path.lstat()
    con.execute(
        """insert into meta.load_log (load_id, run_id, feed, source_file, file_sha256,
            file_bytes, status, rows_read, rows_loaded, rows_quarantined, error, notes,
            started_at, finished_at, file_mtime_ns)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            load_id,
            run_id,
            feed.name,
            result.source_file,
            sha,
            st.st_size,
            result.status,
            result.rows_read,
            result.rows_loaded,
            result.rows_quarantined,
            result.error,
            notes,
            started,
            datetime.now(UTC).replace(tzinfo=None),
            st.st_mtime_ns,
        ],
    )


def _record_failure(con, feed, path, sha, load_id, run_id, started, position, rule, result, t0):
    result.status, result.error = "FAILED", f"{position}: {rule}"
    result.rows_read = result.rows_loaded = result.rows_quarantined = 0
    con.execute("begin transaction")
    try:
        _insert_file_failure(con, feed, path, sha, load_id, run_id, started, position, rule, result)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    result.seconds = time.perf_counter() - t0
    return result


def _insert_file_failure(con, feed, path, sha, load_id, run_id, started, position, rule, result):
    con.execute(
        "insert into meta.quarantine values (?, ?, ?, ?, 0, ?, null, null, 'file', ?, null, ?)",
        [
            load_id,
            feed.name,
            result.source_file,
            sha,
            position,
            f"the whole file was skipped: {rule}",
            started,
        ],
    )
    _write_log(con, feed, path, sha, load_id, run_id, started, result, None)


def symlink_sha(path: Path) -> str:
    """A stable identity for a refused link (its name and where it points), so it is reported
    once, not on every run, and reported again if it is replaced. The target is never read."""
    try:
        target = str(path.readlink())
    except OSError:
        target = "?"
    return hashlib.sha256(f"symlink\0{path.name}\0{target}".encode()).hexdigest()


class _Known:
    """What the load log says about landing files: which bytes were recorded first under which
    name (loaded or failed; SKIPPED copies never count as an original), which (feed, bytes,
    name) are recorded at all, and the (name, size, mtime) of files already read, so an unchanged
    file is not read again (at a million orders the landing zone holds gigabytes; hashing it all
    was most of a run with nothing new). A file rewritten in place gets a new mtime."""

    def __init__(self, con: duckdb.DuckDBPyConnection, landing: Path) -> None:
        self.con = con
        self.first: dict[tuple[str, str], tuple[str, str]] = {}
        self.recorded: set[tuple[str, str, str]] = set()
        self.read: dict[tuple[str, int, int], str] = {}
        self.unstamped: dict[tuple[str, str], int] = {}
        for load_id, feed, sha, source, size, mtime, status in con.execute(
            "select load_id, feed, file_sha256, source_file, file_bytes, file_mtime_ns, status "
            "from meta.load_log order by load_id"
        ).fetchall():
            if Path(source).is_absolute():  # recorded by a version that kept absolute paths
                source = lineage_name(Path(source), landing)
            if status != "SKIPPED":
                self.first.setdefault((feed, sha), (source, status))
            self.recorded.add((feed, sha, source))
            if mtime is not None:
                self.read[(source, size, mtime)] = sha
            elif status != "SKIPPED":
                self.unstamped[(source, sha)] = load_id

    def sha_of(self, path: Path, source: str) -> str:
        """The file's content hash, from the record when path, size and mtime match."""
        if path.is_symlink():
            return symlink_sha(path)
        st = path.stat()
        key = (source, st.st_size, st.st_mtime_ns)
        sha = self.read.get(key)
        if sha is None:
            sha = sha256_of(path)
            load_id = self.unstamped.pop((source, sha), None)
            if load_id is not None:  # recorded before mtimes were kept: stamp it now
                self.con.execute(
                    "update meta.load_log set file_mtime_ns = ? where load_id = ?",
                    [st.st_mtime_ns, load_id],
                )
            self.read[key] = sha
        return sha

    def remember(self, feed: str, sha: str, result: FileResult) -> None:
        """After a file's outcome is written to the load log (never for CHANGING/DEFERRED)."""
        if result.status in ("LOADED", "LOADED_WITH_QUARANTINE", "FAILED"):
            self.first.setdefault((feed, sha), (result.source_file, result.status))
        if result.load_id is not None and result.status not in ("CHANGING", "DEFERRED"):
            self.recorded.add((feed, sha, result.source_file))


def unreadable_sha(path: Path) -> str:
    """A stable identity for a file that cannot be read (permissions): reported once, and
    read again once it changes."""
    try:
        st = path.lstat()
        text = f"unreadable\0{path.name}\0{st.st_size}\0{st.st_mtime_ns}"
    except OSError:  # not even its size can be read
        text = f"unreadable\0{path.name}"
    return hashlib.sha256(text.encode()).hexdigest()


def load_landing(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    feeds: list[str] | None = None,
    run_id: str | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    date_range: tuple[str, str] = DATE_RANGE,
) -> LoadReport:
    """Load every new file under ``landing`` (optionally only some feeds)."""
    ensure_schema(con)
    report = LoadReport()
    known = _Known(con, landing)
    for name, feed in FEEDS.items():
        if feeds and name not in feeds:
            continue
        for path in landing_entries(landing, feed):
            result = _load_entry(con, known, feed, path, landing, run_id, date_range)
            if result is None:
                continue
            report.files.append(result)
            if on_file:
                on_file(result)
    if any(f.status not in ("SKIPPED", "CHANGING", "DEFERRED") for f in report.files):
        from waybill.quarantine import resolve

        # Rows a later file fixed leave the open quarantine (waybill/quarantine.py says how).
        resolve(con, sorted({f.feed for f in report.files}))
    return report


def _load_entry(con, known, feed, path, landing, run_id, date_range) -> FileResult | None:
    """One landing entry: loaded, refused, recorded as a copy, or skipped; None if it vanished."""
    source = lineage_name(path, landing)
    try:
        sha = known.sha_of(path, source)
    except FileNotFoundError:
        return None  # removed between listing and reading: nothing to record
    except OSError as exc:  # unreadable (permissions): the file's failure, named once
        sha = unreadable_sha(path)
        if (feed.name, sha, source) in known.recorded:
            return FileResult(feed.name, source, "SKIPPED")
        result = refuse_unreadable(con, feed, path, run_id, sha, source, exc)
        known.remember(feed.name, sha, result)
        return result
    original = known.first.get((feed.name, sha))
    if original is not None and (feed.name, sha, source) not in known.recorded:
        result = record_duplicate(con, feed, path, run_id, sha, original, source)
    elif original is not None or (feed.name, sha, source) in known.recorded:
        return FileResult(feed.name, source, "SKIPPED")
    elif path.is_symlink():
        result = refuse_symlink(con, feed, path, run_id, sha, source)
    else:
        try:
            result = load_file(con, feed, path, run_id, sha, date_range, landing)
        except FileNotFoundError:
            return None
    known.remember(feed.name, sha, result)
    return result


#: Per feed: files, unreadable files and rows (re-sent copies, SKIPPED, are not deliveries);
#: read by the CLI (warehouse) and the dashboard (snapshot), which must show the same numbers.
LOAD_SUMMARY_SQL = """
select feed, count(*) as files,
       count(*) filter (where status = 'FAILED') as failed_files,
       sum(rows_read) as rows_read, sum(rows_loaded) as rows_loaded,
       sum(rows_quarantined) as rows_quarantined, max(finished_at) as last_loaded_at
from meta.load_log where status <> 'SKIPPED' group by feed order by feed
"""
