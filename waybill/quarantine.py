"""Quarantine made usable: list rejected rows by reason, export them for the sender, and mark
them resolved when a fixed version arrives.

``meta.quarantine`` is append-only history (one row per rejected record or failed file).
``meta.quarantine_resolutions`` records which of them a later load fixed. A quarantined row is
*resolved* when a later load of the same feed delivers it:

1. **by business key**: the rejected record carried every field of the feed's business key
   (``ingestion.contracts``, e.g. ``order_id`` + ``line_number``) and a later load put a row with
   the same key into ``raw.<table>``; this is how a corrected re-send under any file name clears
   its rows;
2. **by re-sent file**: otherwise (the record could not be split into fields, its key was
   blank, or the whole file failed), a later load of a file with the *same file name* in the
   same feed finished without FAILED and quarantined nothing at that row's position (for a
   failed file: the re-sent file loaded).

Resolution runs at the end of every load (``ingestion.load.load_landing``), so ``waybill
quarantine`` lists open rows only, unless ``--all``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from ingestion.contracts import FEEDS
from ingestion.db import frame

RESOLUTIONS_DDL = """
create table if not exists meta.quarantine_resolutions (
    load_id bigint not null,          -- the quarantine row's load ...
    row_number bigint not null,       -- ... row ...
    position varchar not null,        -- ... and position (together: the quarantined record)
    feed varchar not null,
    resolved_by_load_id bigint not null,
    resolved_at timestamp not null,   -- UTC
    how varchar not null              -- business_key or resent_file
);
"""

_IDENTITY = "load_id, row_number, position"


def ensure_resolution_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists meta")
    con.execute(RESOLUTIONS_DDL)


def _basename_sql(col: str) -> str:
    return f"regexp_extract({col}, '[^/\\\\]+$')"


def resolve(con: duckdb.DuckDBPyConnection, feeds: list[str] | None = None) -> int:
    """Mark quarantined rows that later loads fixed; returns how many were newly resolved."""
    ensure_resolution_table(con)
    before = con.execute("select count(*) from meta.quarantine_resolutions").fetchall()[0][0]
    for name, feed in FEEDS.items():
        if feeds and name not in feeds:
            continue
        key = feed.business_key
        required = {f.name for f in feed.fields if f.required}
        extract = {k: f"nullif(trim(json_extract_string(q.record, '$.{k}')), '')" for k in key}
        # Every required key part must be present in the rejected record to match by key.
        has_key = " and ".join(f"{extract[k]} is not null" for k in key if k in required) or "true"
        match = " and ".join(f'r."{k}" is not distinct from {extract[k]}' for k in key)
        open_rows = f"""
            q.feed = '{name}'
            and not exists (
                select 1 from meta.quarantine_resolutions x
                where x.load_id = q.load_id and x.row_number = q.row_number
                  and x.position = q.position)
        """
        con.execute(
            f"""
            insert into meta.quarantine_resolutions
            select q.load_id, q.row_number, q.position, q.feed, min(r._load_id),
                   (now() at time zone 'UTC'), 'business_key'
            from meta.quarantine q
            join raw.{feed.table} r on r._load_id > q.load_id
            where {open_rows} and q.rule <> 'file'
              and q.record is not null and json_valid(q.record)
              and json_type(q.record) = 'OBJECT' and {has_key} and {match}
            group by all
            """
        )
        con.execute(
            f"""
            insert into meta.quarantine_resolutions
            select q.load_id, q.row_number, q.position, q.feed, min(l.load_id),
                   (now() at time zone 'UTC'), 'resent_file'
            from meta.quarantine q
            join meta.load_log l
              on l.feed = q.feed and l.load_id > q.load_id and l.status <> 'FAILED'
             and {_basename_sql("l.source_file")} = {_basename_sql("q.source_file")}
            where {open_rows}
              and (q.rule = 'file' or not exists (
                    select 1 from meta.quarantine q2
                    where q2.load_id = l.load_id and q2.position = q.position))
            group by all
            """
        )
    after = con.execute("select count(*) from meta.quarantine_resolutions").fetchall()[0][0]
    return after - before


def _filters(feed: str | None, since: date | datetime | None, include_resolved: bool):
    where, params = ["true"], []
    if feed:
        where.append("q.feed = ?")
        params.append(feed)
    if since:
        where.append("q.quarantined_at >= ?")
        params.append(since)
    if not include_resolved:
        where.append("x.load_id is null")
    return " and ".join(where), params


def _base_sql(where: str, resolutions: str = "meta.quarantine_resolutions") -> str:
    return f"""
        select q.feed, q.source_file, {_basename_sql("q.source_file")} as file_name,
               q.position, q.row_number, q.field, q.value, q.rule, q.reason, q.record,
               q.quarantined_at, q.load_id,
               x.resolved_at, x.resolved_by_load_id, x.how as resolved_how
        from meta.quarantine q
        left join {resolutions} x using ({_IDENTITY})
        where {where}
    """


def quarantined_rows(
    con: duckdb.DuckDBPyConnection,
    feed: str | None = None,
    since: date | datetime | None = None,
    include_resolved: bool = False,
) -> pl.DataFrame:
    """The quarantined rows (open ones unless ``include_resolved``), oldest load first."""
    where, params = _filters(feed, since, include_resolved)
    sql = _base_sql(where, _resolutions(con)) + " order by q.load_id, q.row_number"
    return frame(con, sql, params)


def grouped(
    con: duckdb.DuckDBPyConnection,
    feed: str | None = None,
    since: date | datetime | None = None,
    include_resolved: bool = False,
    examples: int = 3,
) -> pl.DataFrame:
    """One row per (feed, rule, field): rows, files, first/last seen and a few examples."""
    where, params = _filters(feed, since, include_resolved)
    return frame(
        con,
        f"""
        with rows as ({_base_sql(where, _resolutions(con))})
        select feed, rule, field, count(*) as rows, count(distinct source_file) as files,
               min(quarantined_at) as first_seen, max(quarantined_at) as last_seen,
               list({{'file': file_name, 'position': position, 'value': value,
                      'reason': reason}} order by load_id, row_number)[1:{examples}] as examples
        from rows group by feed, rule, field
        order by feed, rows desc, rule, field
        """,
        params,
    )


_NO_RESOLUTIONS = (
    "(select null::bigint as load_id, null::bigint as row_number, null::varchar as position, "
    "null::timestamp as resolved_at, null::bigint as resolved_by_load_id, null::varchar as how "
    "where false)"
)


def _resolutions(con: duckdb.DuckDBPyConnection) -> str:
    """The resolutions table, or an empty stand-in for a warehouse/snapshot older than it."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'meta' and table_name = 'quarantine_resolutions'"
    ).fetchall()[0][0]
    return "meta.quarantine_resolutions" if exists else _NO_RESOLUTIONS


def export(rows: pl.DataFrame, path: Path) -> Path:
    """Write rows as CSV, XLSX or Parquet, chosen by the file extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    out = rows.drop([c for c in ("examples",) if c in rows.columns])
    if suffix == ".csv":
        out.write_csv(path)
    elif suffix == ".xlsx":
        out.write_excel(path, worksheet="quarantine", autofit=True)
    elif suffix == ".parquet":
        out.write_parquet(path)
    else:
        raise ValueError(f"unsupported export type {suffix!r}: use .csv, .xlsx or .parquet")
    return path


def format_groups(groups: pl.DataFrame) -> str:
    if groups.height == 0:
        return "no quarantined rows"
    lines = [f"{'feed':<22}{'rule':<26}{'field':<24}{'rows':>8}{'files':>7}"]
    for g in groups.iter_rows(named=True):
        lines.append(
            f"{g['feed']:<22}{g['rule']:<26}{(g['field'] or '-'):<24}{g['rows']:>8,}{g['files']:>7}"
        )
        for ex in g["examples"]:
            value = "" if ex["value"] is None else f" [{ex['value']}]"
            lines.append(f"    {ex['file']} {ex['position']}{value}: {ex['reason'][:200]}")
    total = groups["rows"].sum()
    lines.append(f"\n{total:,} quarantined row(s) in {groups.height} group(s)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def _open(settings) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The warehouse read-only; the published snapshot when the pipeline holds the warehouse."""
    if settings.warehouse.exists():
        try:
            return duckdb.connect(str(settings.warehouse), read_only=True), str(settings.warehouse)
        except duckdb.IOException:
            pass
    if settings.snapshot.exists():
        return duckdb.connect(str(settings.snapshot), read_only=True), str(settings.snapshot)
    raise FileNotFoundError(
        f"no warehouse at {settings.warehouse} and no snapshot at {settings.snapshot}: "
        "run `waybill run` first"
    )


def cmd_quarantine(args) -> int:
    from waybill.settings import load_settings

    if args.feed and args.feed not in FEEDS:
        print(f"unknown feed {args.feed!r}; feeds: {', '.join(FEEDS)}")
        return 2
    since = date.fromisoformat(args.since) if args.since else None
    try:
        con, source = _open(load_settings())
    except FileNotFoundError as exc:
        print(exc)
        return 1
    try:
        if args.export:
            rows = quarantined_rows(con, args.feed, since, args.all)
            path = export(rows, Path(args.export))
            print(f"wrote {rows.height:,} quarantined row(s) to {path} (from {source})")
            return 0
        print(format_groups(grouped(con, args.feed, since, args.all)))
        print(f"(from {source}; `--export PATH.csv|.xlsx|.parquet` writes every row)")
    finally:
        con.close()
    return 0


def register(sub) -> None:
    """Add ``waybill quarantine`` to the CLI's subcommands."""
    p = sub.add_parser(
        "quarantine",
        help="list quarantined rows by reason, or export them for the sender to fix",
    )
    p.add_argument("--feed", help="only this feed (e.g. orders, x12_214)")
    p.add_argument("--since", help="only rows quarantined on or after this date (YYYY-MM-DD)")
    p.add_argument("--export", metavar="PATH", help="write the rows to PATH (.csv/.xlsx/.parquet)")
    p.add_argument("--all", action="store_true", help="include rows a later load already resolved")
    p.set_defaults(func=cmd_quarantine)
