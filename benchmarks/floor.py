"""Floor benchmark: the core pipeline slice as one direct DuckDB script.

What it covers
    From the landing files of a generated data set straight to

    - ``fct_shipment_events``: every carrier event, linked to its shipment, mapped to the
      canonical milestone (X12 214, DCSA v2.2/v3.0 JSON, UPS/FedEx/DHL parcel JSON, carrier CSV);
    - ``fct_shipments``: one row per shipment with milestone times, current status, exception
      summary and the on-time pickup/delivery flags (gross and carrier-controllable);
    - ``fct_orders``: one row per order with cycle time, on time, in full, OTIF and perfect
      order flags;
    - per-carrier on-time pickup/delivery numerators and denominators (the
      ``rpt_carrier_scorecard`` columns, summed per carrier).

    Everything runs in DuckDB SQL: X12 is split into segments and elements with string
    functions, JSON is unnested with DuckDB's JSON functions, CSV and Parquet are read by
    DuckDB. Python only lists the landing folders, reads the small seed CSVs (through DuckDB),
    generates SQL and times the stages. The project's own definitions are read, not re-typed:
    the field contracts and their checks come from ``ingestion.contracts`` /
    ``ingestion.load._checks``, the mapping tables from ``dbt_project/seeds/*.csv``, the on-time
    tolerances and excused parties from ``dbt_project/dbt_project.yml``.

    Contract rules applied as the loader applies them: a file already seen with the same
    SHA-256 (within a feed) is read once; whole files the loader marks FAILED are skipped
    (CSV without a required column, empty/binary CSV, X12 without a valid ISA/IEA envelope,
    JSON that does not parse or has an unexpected top-level shape); X12 transaction sets that
    fail their SE/GE check and type-mismatched sets are dropped; every row that breaks a
    contract rule (required, type, allowed values, ISO reference lists, minimum) is dropped;
    staging keeps the latest version per business key (``dedupe_latest``: sender version
    time for DCSA, then later file, then later row).

What it leaves out
    Finance (FX, invoices, landed cost, margin), alerts, scorecard components other than on
    time, data-quality checks, quarantine bookkeeping (no ``meta.*`` tables, no reasons),
    lineage columns, incremental loading across runs (it always reads the landing folder as
    one batch, like a first ``waybill run``). Orders delivered as ``.xlsx`` are read with
    polars' ``read_excel`` (the project's own reader) because DuckDB's excel extension cannot be
    installed offline; that is the one non-DuckDB read. JSON numbers are turned into text by
    DuckDB (``12.50`` -> ``12.5``) where the project keeps the number as written: this can
    only change the outcome of a contract check on pathological numbers (``1e3``), never a
    value used in the four outputs. Not reproduced either (none occurs in generated data, and
    each would only drop rows the loader also drops or keeps): the X12 check for segments run
    together over a line break (a wrong segment terminator), CSV rows-read reconciliation, the
    per-format size limits and the JSON nesting-depth limit.

Timings on the 2-core machine (seed 1): 10k orders 4.7 s (the full ``waybill run`` takes
65 s), 100k orders 27 s, peak RSS 0.7 / 1.5 GiB; 0 differing rows in all four outputs.

How to run
    .venv/bin/python benchmarks/floor.py --data-dir /tmp/floor10k \
        --check /tmp/floor10k/serving/waybill.duckdb [--memory-limit 3GB] [--threads 2]

    It works in a temporary DuckDB file (deleted on exit) and writes nothing to the data dir.
    With ``--check`` it compares its four outputs with the snapshot's marts (read-only) with
    ``EXCEPT ALL`` in both directions on the key and KPI columns listed in ``CHECKS``, prints the
    differing rows per table and exits 1 if any differ.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingestion.contracts import FEEDS, MAX_CSV_LINE_BYTES, Feed  # noqa: E402
from ingestion.load import _checks, landing_files  # noqa: E402
from ingestion.parsers.csv_file import detect_encoding  # noqa: E402

SEEDS = ROOT / "dbt_project" / "seeds"
DBT_PROJECT = ROOT / "dbt_project" / "dbt_project.yml"
FEEDS_USED = (
    "orders",
    "shipments",
    "x12_214",
    "dcsa",
    "parcel",
    "csv_events",
    "returns",
    "carriers",
)


def q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- SQL helpers
# (the dbt macros of dbt_project/macros, written out for DuckDB)


def clean(c: str) -> str:
    return f"nullif(trim({c}), '')"


def code(c: str) -> str:
    return f"upper(nullif(trim({c}), ''))"


_OFFSET_RE = r"(\d{2}:\d{2}(:\d{2}(\.\d+)?)?)\s*(Z|z|[+-]\d{2}(:?\d{2})?)$"


def offset_text(c: str) -> str:
    return f"nullif(regexp_extract({clean(c)}, '{_OFFSET_RE}', 4), '')"


def offset_minutes(c: str) -> str:
    o = offset_text(c)
    return (
        f"(case when upper({o}) = 'Z' then 0 when {o} is not null then "
        f"(case when substr({o}, 1, 1) = '-' then -1 else 1 end) * ("
        f"cast(substr({o}, 2, 2) as integer) * 60 + coalesce(cast(nullif(substr(replace({o}, ':', ''), 4, 2), '') as integer), 0)) end)"
    )


def ts_local(c: str) -> str:
    return f"cast(regexp_replace({clean(c)}, '{_OFFSET_RE}', '\\1') as timestamp)"


def ts_utc(c: str) -> str:
    return f"timezone('UTC', cast({clean(c)} as timestamptz))"


def ts_utc_if_offset(c: str) -> str:
    return f"(case when {offset_text(c)} is not null then {ts_utc(c)} end)"


def skey(cols: list[str]) -> str:
    parts = " || '-' || ".join(f"coalesce(cast({c} as varchar), '_waybill_null_')" for c in cols)
    return f"md5({parts})"


def dedupe(rel: str, keys: list[str], version_by: str | None = None) -> str:
    k = ", ".join(keys)
    v = f"{version_by} desc nulls last, " if version_by else ""
    return (
        f"select * from {rel} qualify row_number() over (partition by {k} "
        f"order by {v}_file_ord desc, _row_ord desc) = 1"
    )


def within(actual: str, start: str, end: str, early: int, grace: int) -> str:
    return (
        f"({actual} <= {end} + interval ({grace}) minute and ({start} is null "
        f"or {actual} >= {start} - interval ({early}) minute))"
    )


def valid_sql(feed: Feed, present: set[str]) -> str:
    """The loader's contract as one predicate: true iff the row has no error (load._checks)."""
    conds = []
    for fld in feed.fields:
        v = clean(f'"{fld.name}"') if fld.name in present else "cast(null as varchar)"
        for cond, _rule, _sentence in _checks(fld):
            if fld.name not in present and not cond.startswith("$V is null"):
                continue  # a missing optional column is null: only `required` can fire
            conds.append(f"not coalesce({cond.replace('$V', v)}, false)")
    return " and ".join(conds) or "true"


# --------------------------------------------------------------------------- landing files


def register_files(con, landing: Path) -> dict[str, list[tuple[int, Path]]]:
    """Every file of the feeds used, with a global load order; byte-identical copies (same
    SHA-256 within a feed) dropped, as the loader skips them."""
    rows, order = [], 0
    for name, feed in FEEDS.items():  # the loader's order: feed by feed, files by name
        if name not in FEEDS_USED:
            continue
        for p in landing_files(landing, feed):
            order += 1
            rows.append((name, order, str(p)))
    con.execute("create temp table _files (feed varchar, file_ord int, path varchar)")
    con.executemany("insert into _files values (?, ?, ?)", rows)
    if not rows:
        con.execute("create temp table files as select * from _files")
        return {n: [] for n in FEEDS_USED}
    # SHA-256 streamed file by file (as the loader does): read_blob over every file at once
    # holds the whole landing zone in memory (3.4 GB at a million orders).
    seen, keep = set(), []
    for feed_name, ordinal, path in rows:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
        if (feed_name, digest.hexdigest()) not in seen:
            seen.add((feed_name, digest.hexdigest()))
            keep.append(ordinal)
    con.execute(
        "create temp table files as select * from _files where list_contains(?, file_ord)",
        [keep],
    )
    out: dict[str, list[tuple[int, Path]]] = {n: [] for n in FEEDS_USED}
    for feed, ordinal, path in con.execute(
        "select feed, file_ord, path from files order by file_ord"
    ).fetchall():
        out[feed].append((ordinal, Path(path)))
    return out


def create_raw(con, feed: Feed) -> None:
    cols = ", ".join(f'"{n}" varchar' for n in feed.field_names)
    con.execute(f"create table raw_{feed.name} ({cols}, _file_ord int, _row_ord bigint)")


def insert_valid(con, feed: Feed, select_sql: str, present: set[str]) -> None:
    """Insert the rows of ``select_sql`` (contract columns + _file_ord, _row_ord) that pass
    the contract, values trimmed and blanks null as raw.* keeps them."""
    fields = ", ".join(
        f"{clean(chr(34) + n + chr(34))}" if n in present else "null" for n in feed.field_names
    )
    # materialised first: DuckDB would otherwise re-evaluate the parsing expressions for
    # every reference the contract predicate makes to a column
    con.execute(f"create or replace temp table _parsed as {select_sql}")
    con.execute(
        f"insert into raw_{feed.name} select {fields}, _file_ord, _row_ord "
        f"from _parsed where {valid_sql(feed, present)}"
    )
    con.execute("drop table _parsed")


def _encoding(path: Path) -> str | None:
    """csv_file.detect_encoding, plus None for a file the loader fails (empty, NUL bytes)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    if not head:
        return None
    encoding = detect_encoding(path)
    if encoding != "utf-16" and b"\x00" in head:
        return None
    return encoding


def _norm_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_")


def load_csv(con, feed: Feed, ordinal: int, path: Path) -> None:
    enc = _encoding(path)
    if enc is None:
        return
    try:
        con.execute(
            f"""create or replace temp table _csv as select * from read_csv({q(str(path))},
                all_varchar = true, header = true, encoding = '{enc}', ignore_errors = true,
                null_padding = false, strict_mode = true, max_line_size = {MAX_CSV_LINE_BYTES})"""
        )
    except duckdb.Error:
        return  # the loader records the file as FAILED
    columns = [r[0] for r in con.execute("select name from pragma_table_info('_csv')").fetchall()]
    mapping = {_norm_header(c): c for c in columns}
    if any(f.name not in mapping for f in feed.fields if f.required):
        return  # required column missing: FAILED
    present = {n for n in feed.field_names if n in mapping}
    select = ", ".join(f'"{mapping[n]}" as "{n}"' for n in present)
    insert_valid(
        con, feed, f"select {select}, {ordinal} as _file_ord, rowid as _row_ord from _csv", present
    )


def load_orders_other(con, feed: Feed, ordinal: int, path: Path) -> None:
    suffix = path.suffix.lower()
    names = feed.field_names
    if suffix == ".parquet":
        try:
            cols = {
                _norm_header(r[0]): r[0]
                for r in con.execute(
                    f"describe select * from read_parquet({q(str(path))})"
                ).fetchall()
            }
        except duckdb.Error:
            return
        if any(f.name not in cols for f in feed.fields if f.required):
            return
        present = {n for n in names if n in cols}
        select = ", ".join(f'cast("{cols[n]}" as varchar) as "{n}"' for n in present)
        insert_valid(
            con,
            feed,
            f"select {select}, {ordinal} as _file_ord, file_row_number as _row_ord "
            f"from read_parquet({q(str(path))}, file_row_number = true)",
            present,
        )
    elif suffix == ".xlsx":
        import polars as pl  # DuckDB's excel extension is not installable offline

        try:
            df = pl.read_excel(path, infer_schema_length=0)
        except Exception:  # noqa: BLE001 - an unreadable workbook is a FAILED file
            return
        df = df.rename({c: _norm_header(c) for c in df.columns})
        if any(f.name not in df.columns for f in feed.fields if f.required):
            return
        present = {n for n in names if n in df.columns}
        df = df.select([pl.col(n).cast(pl.Utf8) for n in present]).with_row_index("_row_ord")
        con.register("_xlsx", df)
        select = ", ".join(f'"{n}"' for n in present)
        insert_valid(
            con, feed, f"select {select}, {ordinal} as _file_ord, _row_ord from _xlsx", present
        )
        con.unregister("_xlsx")
    elif suffix == ".json":
        doc = _json_doc(con, path)
        if doc is None:
            return
        con.execute(
            f"""create or replace temp table _orders as
            with d as (select case when json_type(j) = 'OBJECT' and json_type(j -> 'orders') = 'ARRAY'
                                   then j -> 'orders' else j end as j from (select {doc} as j)),
            oo as (select unnest(list_transform(json_extract(j, '$[*]'), lambda x, i: {{'v': x, 'i': i}})) as ox
                   from d where json_type(j) = 'ARRAY'),
            ll as (select ox.i as oi, ox.v as ord,
                          unnest(list_transform(json_extract(ox.v, '$.lines[*]'), lambda x, i: {{'v': x, 'i': i}})) as lx
                   from oo where json_type(ox.v) = 'OBJECT' and json_type(ox.v -> 'lines') = 'ARRAY')
            select {", ".join(f"case when json_exists(lx.v, '$.{n}') then lx.v ->> '{n}' else ord ->> '{n}' end as {n}" for n in names)},
                   {ordinal} as _file_ord, oi * 100000 + lx.i as _row_ord
            from ll where json_type(lx.v) = 'OBJECT'"""
        )
        # a key no line has is a null column: the same rows fail as when the loader adds it
        insert_valid(con, feed, "select * from _orders", set(names))


def _json_doc(con, path: Path) -> str | None:
    """A SQL expression holding the file's JSON document, or None if the loader would fail it."""
    try:
        con.execute(
            "create or replace temp table _doc as select json_valid(content) as ok, "
            f"content from read_text({q(str(path))})"
        )
    except duckdb.Error:
        return None
    if not con.execute("select ok from _doc").fetchone()[0]:
        return None
    return "(select cast(content as json) from _doc)"


# --------------------------------------------------------------------------- X12 214

_WS = "' ' || chr(9) || chr(13) || chr(10) || chr(0) || chr(26)"


def load_x12_214(con, feed: Feed, files: list[tuple[int, Path]]) -> None:
    if not files:
        return
    paths = "[" + ", ".join(q(str(p)) for _, p in files) + "]"
    ords = (
        "(values " + ", ".join(f"({o}, {q(str(p))})" for o, p in files) + ") as fo(file_ord, path)"
    )
    con.execute(
        f"""create or replace temp table _x12_seg as
        with t as (
            select fo.file_ord, ltrim(replace(content, chr(65279), ''), {_WS}) as body
            from read_text({paths}) r join {ords} on r.filename = fo.path
        ),
        h as (
            select file_ord, body, substr(body, 4, 1) as sep, substr(body, 106, 1) as term
            from t
            where substr(body, 1, 3) = 'ISA' and length(body) >= 106
        ),
        parts as (
            select file_ord, sep,
                   unnest(string_split(body, term)) as raw,
                   unnest(range(1, len(string_split(body, term)) + 1)) as k
            from h
            where not regexp_matches(sep, '[A-Za-z0-9]') and not regexp_matches(term, '[A-Za-z0-9]')
                and sep <> term and len(string_split(substr(body, 1, 105), sep)) = 17
        ),
        segs as (
            select file_ord, trim(raw, {_WS}) as txt, sep, k from parts
        )
        select file_ord,
               row_number() over (partition by file_ord order by k) as seg_no,
               string_split(txt, sep) as el
        from segs where txt <> ''"""
    )
    # envelope: interchange, group, transaction set (x12._walk)
    con.execute(
        """create or replace temp table _x12_env as
        with s as (
            select *, el[1] as sid,
                   sum(case when el[1] = 'ISA' then 1 else 0 end) over w as isa_no,
                   sum(case when el[1] = 'IEA' then 1 else 0 end) over w as iea_no,
                   sum(case when el[1] = 'GS' then 1 else 0 end) over w as gs_no,
                   sum(case when el[1] = 'ST' then 1 else 0 end) over w as st_no,
                   sum(case when el[1] = 'SE' then 1 else 0 end) over w as se_no
            from _x12_seg
            window w as (partition by file_ord order by seg_no rows unbounded preceding)
        ),
        files_ok as (
            -- exactly one interchange closed by an IEA matching ISA-13 and counting its groups
            select file_ord from s group by file_ord
            having count(*) filter (where sid = 'ISA') = 1
                and count(*) filter (where sid = 'IEA') = 1
                and min(seg_no) filter (where sid = 'ISA') = 1
                and trim(max(el[3]) filter (where sid = 'IEA'))
                    = trim(coalesce(max(el[14]) filter (where sid = 'ISA'), ''))
                and trim(coalesce(max(el[2]) filter (where sid = 'IEA'), ''))
                    = cast(count(*) filter (where sid = 'GS' and iea_no = 0) as varchar)
        )
        select s.* from s semi join files_ok using (file_ord)
        where s.iea_no = 0"""
    )
    con.execute(
        """create or replace temp table _x12_txn as
        with st as (
            select file_ord, st_no, gs_no, seg_no as st_seg, el[2] as st_type, el[3] as control
            from _x12_env where sid = 'ST'
        ),
        se as (
            select file_ord, se_no, seg_no as se_seg, el[2] as se_count, el[3] as se_control
            from _x12_env where sid = 'SE'
        ),
        nxt as (  -- the first ST/GS/GE/IEA after each ST, to find a transaction without SE
            select st.file_ord, st.st_no, min(e.seg_no) as next_boundary
            from st join _x12_env e on e.file_ord = st.file_ord and e.seg_no > st.st_seg
                and e.sid in ('ST', 'GS', 'GE', 'IEA', 'SE')
            group by all
        ),
        gs as (
            select file_ord, gs_no, el[7] as gs_control, el[5] as gs_date, el[6] as gs_time,
                   seg_no as gs_seg
            from _x12_env where sid = 'GS'
        ),
        ge as (
            select file_ord, gs_no, el[2] as ge_count, el[3] as ge_control,
                   count(*) over (partition by file_ord, gs_no) as n_ge
            from _x12_env where sid = 'GE'
        ),
        group_size as (
            select file_ord, gs_no, count(*) as n_st from st where gs_no > 0 group by all
        ),
        isa as (
            select file_ord, nullif(trim(coalesce(el[14], '')), '') as isa_control,
                   nullif(trim(coalesce(el[7], '')), '') as sender
            from _x12_env where sid = 'ISA'
        )
        select st.file_ord, st.st_no, st.st_seg, se.se_seg, st.control, isa.isa_control,
               isa.sender, nullif(gs.gs_control, '') as group_control,
               case
                   when nullif(gs.gs_date, '') is null and nullif(gs.gs_time, '') is null then null
                   when regexp_full_match(gs.gs_date, '\\d{8}')
                       and regexp_full_match(gs.gs_time, '\\d{4}(?:\\d{2}\\d{0,2})?')
                       then substr(gs.gs_date, 1, 4) || '-' || substr(gs.gs_date, 5, 2) || '-'
                           || substr(gs.gs_date, 7, 2) || 'T' || substr(gs.gs_time, 1, 2) || ':'
                           || substr(gs.gs_time, 3, 2) || ':'
                           || coalesce(nullif(substr(gs.gs_time, 5, 2), ''), '00')
                   else concat_ws(' ', nullif(gs.gs_date, ''), nullif(gs.gs_time, ''))
               end as received_at,
               st.st_type = '214'
               and st.gs_no > 0
               and se.se_seg is not null
               and se.se_seg = nxt.next_boundary
               and trim(coalesce(se.se_count, '')) = cast(se.se_seg - st.st_seg + 1 as varchar)
               and trim(coalesce(se.se_control, '')) = trim(coalesce(st.control, ''))
               and ge.n_ge = 1
               and trim(coalesce(ge.ge_count, '')) = cast(group_size.n_st as varchar)
               and trim(coalesce(ge.ge_control, '')) = trim(coalesce(gs.gs_control, ''))
                   as is_ok
        from st
        left join se on se.file_ord = st.file_ord and se.se_no = st.st_no
        left join nxt on nxt.file_ord = st.file_ord and nxt.st_no = st.st_no
        left join gs on gs.file_ord = st.file_ord and gs.gs_no = st.gs_no
        left join ge on ge.file_ord = st.file_ord and ge.gs_no = st.gs_no
        left join group_size on group_size.file_ord = st.file_ord and group_size.gs_no = st.gs_no
        left join isa on isa.file_ord = st.file_ord"""
    )

    def g(i: int) -> str:  # element i (X12 numbering), null when empty
        return f"nullif(el[{i + 1}], '')"

    con.execute(
        f"""create or replace temp table _x12_rows as
        with body as (
            select e.*, t.control, t.isa_control, t.sender, t.group_control, t.received_at,
                   sum(case when e.sid = 'LX' then 1 else 0 end)
                       over (partition by e.file_ord, e.st_no order by e.seg_no) as loop_no
            from _x12_env e join _x12_txn t
                on t.file_ord = e.file_ord and t.st_no = e.st_no
                and e.seg_no between t.st_seg and t.se_seg
            where t.is_ok
        ),
        hdr as (
            select file_ord, st_no,
                   arg_max(el, seg_no) filter (where sid = 'B10') as b10,
                   arg_min({g(1)}, seg_no) filter (where sid = 'L11' and el[3] = 'BM') as bol
            from body group by all
        ),
        loops as (
            select file_ord, st_no, loop_no,
                   max({g(1)}) filter (where sid = 'LX') as lx_number,
                   list(struct_pack(seg_no, el) order by seg_no) filter (where sid = 'MS1') as ms1s
            from body group by all
        ),
        at7 as (select * from body where sid = 'AT7')
        select
            at7.isa_control as interchange_control_number,
            at7.group_control as group_control_number,
            at7.control as transaction_control_number,
            at7.sender as sender_id,
            at7.received_at,
            nullif(hdr.b10[2], '') as carrier_pro_number,
            nullif(hdr.b10[3], '') as shipment_id,
            nullif(hdr.b10[4], '') as carrier_scac,
            hdr.bol as bill_of_lading,
            loops.lx_number,
            {g(1)} as status_code, {g(2)} as status_reason_code, {g(3)} as appointment_code,
            {g(4)} as appointment_reason_code, {g(5)} as event_date, {g(6)} as event_time,
            {g(7)} as time_code,
            coalesce(
                list_filter(loops.ms1s, lambda m: m.seg_no > at7.seg_no)[1],
                loops.ms1s[-1]
            ).el as ms1,
            at7.file_ord as _file_ord, at7.seg_no as _row_ord
        from at7
        join hdr using (file_ord, st_no)
        join loops using (file_ord, st_no, loop_no)"""
    )
    present = set(feed.field_names)
    insert_valid(
        con,
        feed,
        """select * exclude (ms1), nullif(ms1[2], '') as city, nullif(ms1[3], '') as state,
                  nullif(ms1[4], '') as country from _x12_rows""",
        present,
    )


# --------------------------------------------------------------------------- DCSA JSON

_EVENT_KEYS = (
    "eventID",
    "eventType",
    "eventClassification",
    "eventDateTime",
    "eventClassifierCode",
)


def _first(*exprs: str) -> str:
    return "coalesce(" + ", ".join(f"nullif({e}, '')" for e in exprs) + ")"


def load_dcsa(con, feed: Feed, ordinal: int, path: Path) -> None:
    doc = _json_doc(con, path)
    if doc is None:
        return
    has_key = " or ".join(f"json_exists(d, '$.{k}')" for k in _EVENT_KEYS)
    shape = con.execute(
        f"""select case
            when json_type(d) = 'ARRAY' then 'v22'
            when json_type(d) = 'OBJECT' and json_exists(d, '$.events')
                then case when json_type(d -> 'events') = 'ARRAY' then 'v3' else 'fail' end
            when json_type(d) = 'OBJECT' and ({has_key}) then 'single'
            else 'fail' end
        from (select {doc} as d)"""
    ).fetchone()[0]
    if shape == "fail":
        return
    events = {
        "v22": "json_extract(d, '$[*]')",
        "v3": "json_extract(d, '$.events[*]')",
        "single": "[d]",
    }[shape]
    default3 = "true" if shape != "v22" else "false"

    def lst(x: str) -> str:  # _list(): a list, a lone object as [object], else []
        return (
            f"(case json_type({x}) when 'ARRAY' then json_extract({x}, '$[*]') "
            f"when 'OBJECT' then [{x}] else [] end)"
        )

    def ref(pairs: str, kind: str) -> str:
        return f"list_filter({pairs}, lambda p: p.k = '{kind}' and coalesce(p.v, '') <> '')[1].v"

    v22_pairs = (
        f"list_concat(list_transform({lst('e -> ' + q('documentReferences'))}, "
        "lambda r: {'k': r ->> 'documentReferenceType', 'v': r ->> 'documentReferenceValue'}), "
        "[{'k': e ->> 'documentTypeCode', 'v': e ->> 'documentID'}])"
    )
    v3_docs = (
        "list_concat([e -> '$.shipmentDetails.documentReference'], "
        f"{lst(chr(40) + 'e -> ' + q('$.shipmentDetails.additionalDocumentReferences') + chr(41))})"
    )
    v3_pairs = (
        f"list_transform({v3_docs}, lambda r: {{'k': case when json_exists(r, '$.typeCode') "
        "then r ->> 'typeCode' else r ->> 'type' end, 'v': r ->> 'reference'})"
    )
    type_codes = [
        f"k ->> '{k}EventType{s}'"
        for k in ("transport", "equipment", "shipment", "reefer", "iot")
        for s in ("Code", "")
    ]
    v22 = {
        "carrier_code": _first("e ->> '$.transportCall.vessel.vesselOperatorCarrierCode'"),
        "event_type": "e ->> 'eventType'",
        "event_classifier_code": "e ->> 'eventClassifierCode'",
        "event_type_code": _first(
            "e ->> 'transportEventTypeCode'",
            "e ->> 'equipmentEventTypeCode'",
            "e ->> 'shipmentEventTypeCode'",
        ),
        "event_updated_datetime": "null",
        "is_retracted": "null",
        "booking_reference": ref(v22_pairs, "BKG"),
        "transport_document_reference": ref(v22_pairs, "TRD"),
        "equipment_reference": "e ->> 'equipmentReference'",
        "empty_indicator_code": "e ->> 'emptyIndicatorCode'",
        "un_location_code": _first(
            "e ->> '$.eventLocation.UNLocationCode'",
            "e ->> '$.transportCall.UNLocationCode'",
            "e ->> '$.transportCall.location.UNLocationCode'",
        ),
        "facility_type_code": _first(
            "e ->> 'facilityTypeCode'",
            "e ->> '$.eventLocation.facilityTypeCode'",
            "e ->> '$.transportCall.facilityTypeCode'",
        ),
        "delay_reason_code": "e ->> 'delayReasonCode'",
    }
    originator = (
        "(case when json_type(e -> '$.eventRouting.originatingParty') = 'OBJECT' "
        "and (e -> '$.eventRouting.originatingParty') <> '{}' "
        "then e -> '$.eventRouting.originatingParty' "
        f"else {lst(chr(40) + 'e -> ' + q('$.eventRouting.originatingParties') + chr(41))}[1] end)"
    )
    delays = "e -> '$.transportDetails.delayReasonCodes'"
    v3 = {
        "carrier_code": _first(
            f"{originator} ->> 'partyCode'",
            "e ->> '$.transportDetails.transportCall.vesselTransport.operatorCarrierCode'",
        ),
        "event_type": _first("k ->> 'eventTypeCode'", "k ->> 'eventType'"),
        "event_classifier_code": _first("k ->> 'eventClassifierCode'", "k ->> 'eventClassifier'"),
        "event_type_code": _first(*type_codes),
        "event_updated_datetime": "e ->> 'eventUpdatedDateTime'",
        "is_retracted": "e ->> 'isRetracted'",
        "booking_reference": ref(v3_pairs, "BKG"),
        "transport_document_reference": ref(v3_pairs, "TRD"),
        "equipment_reference": "e ->> '$.equipmentDetails.equipmentReference'",
        "empty_indicator_code": _first(
            "e ->> '$.equipmentDetails.emptyIndicatorCode'",
            "e ->> '$.equipmentDetails.emptyIndicator'",
        ),
        "un_location_code": "e ->> '$.eventLocation.UNLocationCode'",
        "facility_type_code": _first(
            "e ->> '$.eventLocation.facilityTypeCode'", "e ->> '$.eventLocation.facilityType'"
        ),
        "delay_reason_code": (
            f"case when json_type({delays}) = 'ARRAY' then nullif(array_to_string(list_filter("
            f"list_transform(json_extract({delays}, '$[*]'), lambda x: x ->> '$'), lambda x: coalesce(x, '') <> ''), ';'), '') "
            f"else nullif({delays} ->> '$', '') end"
        ),
    }
    cols = [
        "e ->> 'eventID' as event_id",
        "case when nested then '3.0' else '2.2' end as schema_version",
    ]
    for n in feed.field_names:
        if n in ("event_id", "schema_version"):
            continue
        if n in v22:
            cols.append(f"case when nested then {v3[n]} else {v22[n]} end as {n}")
        elif n in ("event_datetime", "event_created_datetime"):
            src = {
                "event_datetime": "eventDateTime",
                "event_created_datetime": "eventCreatedDateTime",
            }
            cols.append(f"e ->> '{src[n]}' as {n}")
        elif n == "remark":
            cols.append(
                _first("e ->> 'changeRemark'", "e ->> 'description'", "e ->> 'reason'")
                + " as remark"
            )
    select = _one_parse(", ".join(cols), "e", {"k": "$.eventClassification"})
    keys = ", ".join(q(k) for k in _EVENT_KEYS)
    insert_valid(
        con,
        feed,
        f"""with ev as (
                select unnest(list_transform({events}, lambda x, i: {{'e': x, 'i': i}})) as x
                from (select {doc} as d)
            ),
            objects as (
                select x.e as e, x.i as i, json_keys(x.e) as keys
                from ev where json_type(x.e) = 'OBJECT'
            ),
            e as (
                select i, {select.extract},
                       list_contains(keys, 'eventClassification')
                       or ({default3} and not list_contains(keys, 'eventType')) as nested
                from objects where list_has_any(keys, [{keys}])
            )
            select {select.columns}, {ordinal} as _file_ord, i as _row_ord from e""",
        set(feed.field_names),
    )


class _Extract:
    def __init__(self, extract: str, columns: str):
        self.extract, self.columns = extract, columns


def _one_parse(columns: str, var: str, aliases: dict[str, str]) -> _Extract:
    """Parse each JSON object once: every ``var ->> 'key'`` / ``var ->> '$.path'`` (and the
    same on the aliases, which stand for a sub-path of var) becomes an element of one
    ``json_extract_string(var, [paths])`` list, every ``var -> ...`` of one ``json_extract``."""
    strings: list[str] = []
    jsons: list[str] = []
    names = "|".join(re.escape(n) for n in [var, *aliases])

    def path(name: str, key: str) -> str:
        base = "$" if name == var else aliases[name]
        return key if key.startswith("$") else f"{base}.{key}"

    def sub(m: re.Match) -> str:
        name, op, key = m.group(1), m.group(2), m.group(3)
        target = strings if op == "->>" else jsons
        p = path(name, key)
        if p not in target:
            target.append(p)
        return f"{'_s' if op == '->>' else '_j'}[{target.index(p) + 1}]"

    out = re.sub(rf"\b({names}) (->>|->) '([^']*)'", sub, columns)
    parts = []
    parts.append(
        f"json_extract_string({var}, [{', '.join(q(p) for p in strings)}]) as _s"
        if strings
        else "null as _s"
    )
    parts.append(
        f"json_extract({var}, [{', '.join(q(p) for p in jsons)}]) as _j" if jsons else "null as _j"
    )
    return _Extract(", ".join(parts), out)


# --------------------------------------------------------------------------- parcel JSON


def _children(x: str, key: str) -> str:
    """parcel._items: the children under key (a lone object is a one-element list), each with
    its index; only objects become rows (anything else is a reject)."""
    v = f"({x} -> '{key}')"
    return (
        f"list_transform(case json_type({v}) when 'ARRAY' then json_extract({v}, '$[*]') "
        f"when 'NULL' then [] else [{v}] end, lambda c, i: {{'c': c, 'i': i}})"
    )


def _nn(e: str) -> str:
    return f"nullif({e}, '')"


def load_parcel(con, feed: Feed, ordinal: int, path: Path) -> None:
    doc = _json_doc(con, path)
    if doc is None:
        return
    shape = con.execute(
        f"""select case
            when json_type(d) <> 'OBJECT' then 'fail'
            when json_type(d -> 'trackResponse') = 'OBJECT' then 'ups'
            when json_type(d -> 'output') = 'OBJECT' and json_exists(d, '$.output.completeTrackResults') then 'fedex'
            when json_type(d -> 'shipments') = 'ARRAY' then 'dhl'
            else 'fail' end
        from (select {doc} as d)"""
    ).fetchone()[0]
    if shape == "fail":
        return
    received = "case when json_exists(d, '$.receivedAt') then d ->> 'receivedAt' else d ->> 'received_at' end"
    if shape == "ups":
        walk = f"""
            l1 as (select unnest({_children("d -> 'trackResponse'", "shipment")}) as a from doc),
            l2 as (select a, unnest({_children("a.c", "package")}) as b from l1 where json_type(a.c) = 'OBJECT'),
            l3 as (select b.c ->> 'trackingNumber' as trk, a.i as ai, b.i as bi,
                          unnest({_children("b.c", "activity")}) as ev
                   from l2 where json_type(b.c) = 'OBJECT')
        """
        ev = "evc"
        date, tm = f"{_nn(ev + ' ->> ' + q('date'))}", f"{_nn(ev + ' ->> ' + q('time'))}"
        fields = {
            "tracking_number": "trk",
            "carrier_code": "'UPS'",
            "status_code": f"{ev} ->> '$.status.type'",
            "status_description": f"{ev} ->> '$.status.description'",
            "reason_code": f"{ev} ->> '$.status.code'",
            "event_timestamp": (
                f"case when {date} is not null and {tm} is not null "
                f"and regexp_full_match({date}, '\\d{{8}}') and regexp_full_match({tm}, '\\d{{6}}|\\d{{4}}') "
                f"then substr({date}, 1, 4) || '-' || substr({date}, 5, 2) || '-' || substr({date}, 7, 2) "
                f"|| 'T' || substr({tm}, 1, 2) || ':' || substr({tm}, 3, 2) || ':' "
                f"|| coalesce(nullif(substr({tm}, 5, 2), ''), '00') "
                f"else nullif(concat_ws(' ', {date}, {tm}), '') end"
            ),
            "city": f"{ev} ->> '$.location.address.city'",
            "country": f"{ev} ->> '$.location.address.countryCode'",
            "postcode": f"{ev} ->> '$.location.address.postalCode'",
        }
    elif shape == "fedex":
        walk = f"""
            l1 as (select unnest({_children("d -> 'output'", "completeTrackResults")}) as a from doc),
            l2 as (select a, unnest({_children("a.c", "trackResults")}) as b from l1 where json_type(a.c) = 'OBJECT'),
            l3 as (select coalesce(nullif(a.c ->> 'trackingNumber', ''),
                                   b.c ->> '$.trackingNumberInfo.trackingNumber') as trk,
                          a.i as ai, b.i as bi, unnest({_children("b.c", "scanEvents")}) as ev
                   from l2 where json_type(b.c) = 'OBJECT')
        """
        ev = "evc"
        fields = {
            "tracking_number": "trk",
            "carrier_code": "'FEDEX'",
            "status_code": f"{ev} ->> 'eventType'",
            "status_description": f"{ev} ->> 'eventDescription'",
            "reason_code": f"{ev} ->> 'exceptionCode'",
            "event_timestamp": f"{ev} ->> 'date'",
            "city": f"{ev} ->> '$.scanLocation.city'",
            "country": f"{ev} ->> '$.scanLocation.countryCode'",
            "postcode": f"{ev} ->> '$.scanLocation.postalCode'",
        }
    else:
        walk = f"""
            l1 as (select unnest({_children("d", "shipments")}) as a from doc),
            l3 as (select coalesce(nullif(a.c ->> 'shipmentTrackingNumber', ''), a.c ->> 'id') as trk,
                          a.i as ai, 0 as bi, unnest({_children("a.c", "events")}) as ev
                   from l1 where json_type(a.c) = 'OBJECT')
        """
        ev = "evc"
        date, tm = _nn(f"{ev} ->> 'date'"), _nn(f"{ev} ->> 'time'")
        fields = {
            "tracking_number": "trk",
            "carrier_code": "'DHL'",
            "status_code": f"{ev} ->> 'typeCode'",
            "status_description": f"{ev} ->> 'description'",
            "reason_code": "null",
            "event_timestamp": (
                f"case when {date} is not null and {tm} is not null "
                f"then {date} || 'T' || {tm} || coalesce({ev} ->> 'GMTOffset', '') "
                f"else coalesce({date}, {tm}, {ev} ->> 'timestamp') end"
            ),
            "city": f"{ev} ->> '$.location.address.addressLocality'",
            "country": f"{ev} ->> '$.location.address.countryCode'",
            "postcode": f"{ev} ->> '$.location.address.postalCode'",
        }
    fields["received_at"] = "received_at"
    cols = _one_parse(", ".join(f"{fields[n]} as {n}" for n in feed.field_names), "evc", {})
    insert_valid(
        con,
        feed,
        f"""with doc as (select {doc} as d), {walk},
            leaf as (
                select trk, ai, bi, ev.i as ei, ev.c as evc,
                       (select {received} from doc) as received_at
                from l3 where json_type(ev.c) = 'OBJECT'
            ),
            parsed as (select *, {cols.extract} from leaf)
            select {cols.columns}, {ordinal} as _file_ord,
                   row_number() over (order by ai, bi, ei) as _row_ord
            from parsed""",
        set(feed.field_names),
    )


# --------------------------------------------------------------------------- stages


def load_seeds(con) -> None:
    types = yaml.safe_load(DBT_PROJECT.read_text())["seeds"]["waybill"]
    for path in sorted(SEEDS.glob("*.csv")):
        name = path.stem
        ct = types.get(name, {}).get("+column_types", {})
        con.execute(
            f"create or replace temp table _seed as select * from read_csv({q(str(path))}, all_varchar = true, header = true)"
        )
        cols = [r[0] for r in con.execute("select name from pragma_table_info('_seed')").fetchall()]
        sel = ", ".join(f'cast("{c}" as {ct.get(c, "varchar")}) as "{c}"' for c in cols)
        con.execute(f"create table seed_{name} as select {sel} from _seed")


def stage_load(con, landing: Path, detail: list[tuple[str, float]]) -> None:
    t0 = time.perf_counter()
    load_seeds(con)
    files = register_files(con, landing)
    detail.append(("seeds+files", time.perf_counter() - t0))
    for name in FEEDS_USED:
        t0 = time.perf_counter()
        _load_feed(con, FEEDS[name], files[name])
        detail.append((name, time.perf_counter() - t0))


def _load_feed(con, feed: Feed, files: list[tuple[int, Path]]) -> None:
    create_raw(con, feed)
    if feed.format == "x12_214":
        load_x12_214(con, feed, files)
        return
    for ordinal, path in files:
        if feed.format == "csv" or (feed.format == "order_file" and path.suffix.lower() == ".csv"):
            load_csv(con, feed, ordinal, path)
        elif feed.format == "order_file":
            load_orders_other(con, feed, ordinal, path)
        elif feed.format == "dcsa_json":
            load_dcsa(con, feed, ordinal, path)
        elif feed.format == "parcel_json":
            load_parcel(con, feed, ordinal, path)


def stage_staging(con) -> None:
    con.execute(
        f"""create table stg_orders as
        with r as (
            select {clean("order_id")} as order_id, cast(line_number as bigint) as line_number,
                   {clean("customer_id")} as customer_id, {code("channel")} as sales_channel,
                   {code("incoterm")} as incoterm, {clean("incoterm_place")} as incoterm_place,
                   {code("origin_country")} as origin_country, {code("origin_locode")} as origin_locode,
                   {code("destination_country")} as destination_country,
                   {code("destination_locode")} as destination_locode,
                   cast(quantity as bigint) as quantity_ordered,
                   {ts_utc("created_at")} as created_at,
                   {ts_utc("promised_delivery_start")} as promised_delivery_start_at,
                   {ts_utc("promised_delivery_end")} as promised_delivery_end_at,
                   _file_ord, _row_ord
            from raw_orders
        ) {dedupe("r", ["order_id", "line_number"])}"""
    )
    con.execute(
        f"""create table stg_shipments as
        with r as (
            select {clean("shipment_id")} as shipment_id, {clean("order_id")} as order_id,
                   cast(line_number as bigint) as line_number, {code("carrier_code")} as carrier_code,
                   {clean("tracking_number")} as tracking_number, {code("mode")} as transport_mode,
                   {code("service_level")} as service_level, {code("origin_locode")} as origin_locode,
                   {code("destination_locode")} as destination_locode,
                   cast(quantity_shipped as bigint) as quantity_shipped,
                   {ts_utc("planned_pickup_start")} as planned_pickup_start_at,
                   {ts_utc("planned_pickup_end")} as planned_pickup_end_at,
                   {ts_utc("planned_delivery_start")} as planned_delivery_start_at,
                   {ts_utc("planned_delivery_end")} as planned_delivery_end_at,
                   {ts_utc("shipped_at")} as shipped_at,
                   _file_ord, _row_ord
            from raw_shipments
        ) {dedupe("r", ["shipment_id", "order_id", "line_number"])}"""
    )
    con.execute(
        f"""create table stg_returns as
        with r as (
            select {clean("rma_number")} as rma_number, {clean("order_id")} as order_id,
                   cast(line_number as bigint) as line_number, {code("reason")} as return_reason,
                   cast(quantity as bigint) as quantity_returned, _file_ord, _row_ord
            from raw_returns
        ) {dedupe("r", ["rma_number", "order_id", "line_number"])}"""
    )
    con.execute(
        f"""create table stg_carriers as
        with r as (
            select {code("carrier_code")} as carrier_code, {code("scac")} as carrier_scac,
                   {clean("carrier_name")} as carrier_name, _file_ord, _row_ord
            from raw_carriers
        ) {dedupe("r", ["carrier_code"])}"""
    )
    d8 = (
        "cast(substr(event_date, 1, 4) || '-' || substr(event_date, 5, 2) || '-' "
        "|| substr(event_date, 7, 2) as date)"
    )
    t4 = (
        "cast(substr(event_time, 1, 2) || ':' || substr(event_time, 3, 2) || ':' "
        "|| coalesce(nullif(substr(event_time, 5, 2), ''), '00') as time)"
    )
    con.execute(
        f"""create table stg_x12 as
        with r as (
            select {clean("shipment_id")} as shipment_id, {code("carrier_scac")} as carrier_scac,
                   {code("status_code")} as status_code, {code("status_reason_code")} as status_reason_code,
                   {code("appointment_code")} as appointment_status_code,
                   {code("appointment_reason_code")} as appointment_reason_code,
                   {code("time_code")} as time_code, {clean("city")} as location_city,
                   {code("state")} as location_state, {code("country")} as location_country,
                   {d8} as event_date, {t4} as event_time, {d8} + {t4} as event_local,
                   {ts_utc_if_offset("received_at")} as received_at,
                   _file_ord, _row_ord
            from raw_x12_214
        ) {dedupe("r", ["shipment_id", "carrier_scac", "status_code", "appointment_status_code", "event_date", "event_time"])}"""
    )
    con.execute(
        f"""create table stg_dcsa as
        with r as (
            select {clean("event_id")} as dcsa_event_id, {code("carrier_code")} as carrier_code,
                   {clean("booking_reference")} as booking_reference,
                   {code("event_type")} as event_type,
                   {code("event_classifier_code")} as event_classifier_code,
                   {code("event_type_code")} as event_type_code,
                   {code("empty_indicator_code")} as empty_indicator_code,
                   {code("un_location_code")} as location_locode,
                   {code("facility_type_code")} as facility_type_code,
                   {code("delay_reason_code")} as delay_reason_code,
                   {clean("remark")} as event_remark,
                   case when lower(trim(is_retracted)) in ('true', 't', '1', 'y', 'yes') then true
                        when lower(trim(is_retracted)) in ('false', 'f', '0', 'n', 'no') then false
                   end as is_retracted,
                   {ts_utc("event_datetime")} as event_at,
                   {offset_minutes("event_datetime")} as event_utc_offset_minutes,
                   {ts_utc("event_created_datetime")} as event_created_at,
                   {ts_utc("event_updated_datetime")} as event_updated_at,
                   _file_ord, _row_ord
            from raw_dcsa
        ) {dedupe("r", ["dcsa_event_id"], "coalesce(event_updated_at, event_created_at)")}"""
    )
    con.execute(
        f"""create table stg_parcel as
        with r as (
            select {clean("tracking_number")} as tracking_number, {code("carrier_code")} as carrier_code,
                   {code("status_code")} as status_code, {clean("status_description")} as status_description,
                   {code("reason_code")} as reason_code, {clean("city")} as location_city,
                   {code("country")} as location_country,
                   {ts_local("event_timestamp")} as event_local,
                   {offset_minutes("event_timestamp")} as event_utc_offset_minutes,
                   {ts_utc_if_offset("event_timestamp")} as event_at,
                   {ts_utc("received_at")} as received_at,
                   _file_ord, _row_ord
            from raw_parcel
        ) {dedupe("r", ["tracking_number", "carrier_code", "status_code", "reason_code", "event_local", "event_utc_offset_minutes"])}"""
    )
    # the hash reads the raw columns (trimmed by the loader), as the staging model does
    csv_id = skey(["shipment_id", "carrier_code", "event_code", "event_time"])
    con.execute(
        f"""create table stg_csv_events as
        with r as (
            select coalesce({clean("event_id")}, {csv_id}) as carrier_event_id,
                   {clean("shipment_id")} as shipment_id, {code("carrier_code")} as carrier_code,
                   {code("event_code")} as event_code, {code("reason_code")} as reason_code,
                   {code("location_locode")} as location_locode,
                   {ts_local("event_time")} as event_local,
                   {offset_minutes("event_time")} as event_utc_offset_minutes,
                   {ts_utc_if_offset("event_time")} as event_at,
                   {ts_utc("received_at")} as received_at,
                   _file_ord, _row_ord
            from raw_csv_events
        ) {dedupe("r", ["carrier_code", "carrier_event_id"])}"""
    )
    # int_shipments_aggregated
    con.execute(
        """create table shipments_agg as
        with orders_created as (
            select order_id, min(created_at) as order_created_at from stg_orders group by order_id
        ),
        a as (
            select s.shipment_id, max(carrier_code) as carrier_code,
                   max(tracking_number) as tracking_number, max(transport_mode) as transport_mode,
                   max(origin_locode) as origin_locode, max(destination_locode) as destination_locode,
                   count(distinct s.order_id) as order_count,
                   min(o.order_created_at) as order_created_at,
                   min(planned_pickup_start_at) as planned_pickup_start_at,
                   max(planned_pickup_end_at) as planned_pickup_end_at,
                   min(planned_delivery_start_at) as planned_delivery_start_at,
                   max(planned_delivery_end_at) as planned_delivery_end_at
            from stg_shipments s left join orders_created o on s.order_id = o.order_id
            group by s.shipment_id
        )
        select a.*,
               coalesce(og.country, substr(a.origin_locode, 1, 2)) as origin_country,
               coalesce(de.country, substr(a.destination_locode, 1, 2)) as destination_country
        from a
        left join seed_ref_locations og on a.origin_locode = og.locode
        left join seed_ref_locations de on a.destination_locode = de.locode"""
    )


def stage_events(con) -> None:
    x12_id = skey(
        [
            "'X12_214'",
            "x.carrier_scac",
            "x.shipment_id",
            "coalesce(x.status_code, x.appointment_status_code)",
            "coalesce(x.status_reason_code, x.appointment_reason_code)",
            "x.event_local",
            "x.time_code",
            "x.location_city",
        ]
    )
    parcel_id = skey(
        [
            "'PARCEL'",
            "carrier_code",
            "tracking_number",
            "status_code",
            "reason_code",
            "event_local",
            "event_utc_offset_minutes",
            "location_city",
        ]
    )
    n = "cast(null as varchar)"
    nts = "cast(null as timestamp)"
    con.execute(
        f"""create table events_localized as
        with unioned as (
            select {x12_id} as event_id, 'X12_214' as source, {n} as source_event_id,
                   coalesce(c.carrier_code, x.carrier_scac) as carrier_code,
                   x.shipment_id as carrier_shipment_ref, 'SHIPMENT_ID' as shipment_ref_type,
                   case when x.status_code is null then 'X12_1652' else 'X12_1650' end as code_list,
                   coalesce(x.status_code, x.appointment_status_code) as raw_code,
                   coalesce(x.status_reason_code, x.appointment_reason_code) as raw_reason_code,
                   'X12_1651' as reason_code_list, {n} as raw_classifier,
                   {n} as empty_indicator_code, {n} as facility_type_code, {n} as location_locode,
                   x.location_city, x.location_state as location_subdivision, x.location_country,
                   {nts} as event_at_sent, x.event_local as event_local_sent,
                   x.time_code as x12_time_code, x.received_at, false as is_retracted,
                   {n} as event_remark
            from stg_x12 x left join stg_carriers c on x.carrier_scac = c.carrier_scac
            union all
            select dcsa_event_id, 'DCSA', dcsa_event_id, carrier_code, booking_reference,
                   'TRACKING_NUMBER', 'DCSA_' || event_type, event_type_code, delay_reason_code,
                   'DCSA_DELAY_REASON', event_classifier_code, empty_indicator_code,
                   facility_type_code, location_locode, {n}, {n}, {n}, event_at,
                   event_at + to_minutes(event_utc_offset_minutes), {n},
                   coalesce(event_updated_at, event_created_at), coalesce(is_retracted, false),
                   event_remark
            from stg_dcsa
            union all
            select {parcel_id}, 'PARCEL', {n}, carrier_code, tracking_number, 'TRACKING_NUMBER',
                   'PARCEL', status_code, reason_code, {n}, {n}, {n}, {n}, {n}, location_city, {n},
                   location_country, event_at, event_local, {n}, received_at, false,
                   status_description
            from stg_parcel
            union all
            select carrier_code || ':' || carrier_event_id, 'CARRIER_CSV', carrier_event_id,
                   carrier_code, shipment_id, 'SHIPMENT_ID', 'CARRIER_CSV', event_code,
                   reason_code, {n}, {n}, {n}, {n}, location_locode, {n}, {n}, {n}, event_at,
                   event_local, {n}, received_at, false, {n}
            from stg_csv_events
        ),
        located as (
            select u.*, coalesce(bl.locode, bc.locode) as resolved_locode,
                   coalesce(bl.time_zone, bc.time_zone) as location_time_zone,
                   tc.utc_offset_minutes as time_code_offset_minutes,
                   tc.time_zone as time_code_time_zone
            from unioned u
            left join seed_ref_locations bl on u.location_locode = bl.locode
            left join seed_ref_locations bc
                on u.location_locode is null and upper(u.location_city) = upper(bc.city)
                and u.location_country = bc.country
                and (u.location_subdivision is null or u.location_subdivision = bc.subdivision)
            left join seed_x12_time_codes tc on u.x12_time_code = tc.time_code
        ),
        zoned as (
            select *, case when event_at_sent is null and time_code_offset_minutes is null
                           then coalesce(time_code_time_zone, location_time_zone) end as rz
            from located
        ),
        cand as (
            select *, timezone('UTC', timezone(rz, event_local_sent)) as zs,
                   timezone('UTC', timezone(rz, event_local_sent)) - interval 1 hour as zf
            from zoned
        ),
        resolved as (
            select *,
                   case
                       when event_at_sent is not null then event_at_sent
                       when time_code_offset_minutes is not null
                           then event_local_sent + to_minutes(-1 * time_code_offset_minutes)
                       when timezone(rz, timezone('UTC', zf)) = event_local_sent
                           and received_at is not null and zs > received_at then zf
                       else zs
                   end as event_at,
                   case
                       when event_at_sent is not null then 'OFFSET_SENT'
                       when time_code_offset_minutes is not null or time_code_time_zone is not null
                           then 'X12_TIME_CODE'
                       when location_time_zone is not null then 'LOCATION_TIME_ZONE'
                       else 'UNRESOLVED'
                   end as event_time_basis,
                   coalesce(location_time_zone, time_code_time_zone) as event_time_zone
            from cand
        )
        select * exclude (zs, zf, rz),
               case when event_time_zone is not null and event_at is not null
                    then timezone(event_time_zone, timezone('UTC', event_at))
                    else event_local_sent end as event_local
        from resolved"""
    )
    con.execute(
        """create table code_rules as
        with u as (
            select 'X12_1650' as code_list, '*' as carrier_code, status_code as raw_code,
                   '*' as raw_reason_code, '*' as empty_indicator_code, '*' as facility_type_code,
                   location_role, milestone, classifier, milestone_priority, exception_type,
                   responsible_party, mapping_version
            from seed_map_x12_status_codes
            union all
            select 'X12_1652', '*', appointment_code, '*', '*', '*', '*', milestone, classifier,
                   1, null, null, mapping_version
            from seed_map_x12_appointment_codes
            union all
            select 'DCSA_' || event_type, '*', event_type_code, '*', empty_indicator_code,
                   facility_type_code, location_role, milestone, null, milestone_priority,
                   exception_type, responsible_party, mapping_version
            from seed_map_dcsa_event_codes
            union all
            select 'PARCEL', carrier_code, status_code, reason_code, '*', '*', location_role,
                   milestone, classifier, milestone_priority, exception_type, responsible_party,
                   mapping_version
            from seed_map_parcel_status_codes
            union all
            select 'CARRIER_CSV', '*', event_code, reason_code, '*', '*', location_role,
                   milestone, classifier, milestone_priority, exception_type, responsible_party,
                   mapping_version
            from seed_map_csv_event_codes
        )
        select *, (carrier_code <> '*')::int + (raw_reason_code <> '*')::int
                  + (empty_indicator_code <> '*')::int + (facility_type_code <> '*')::int
                  + (location_role <> '*')::int as rule_specificity
        from u"""
    )
    con.execute(
        """create table reason_rules as
        select 'X12_1651' as reason_code_list, reason_code, is_normal, exception_type,
               responsible_party
        from seed_map_x12_reason_codes
        union all
        select 'DCSA_DELAY_REASON', delay_reason_code, false, exception_type, responsible_party
        from seed_map_dcsa_delay_reason_codes"""
    )
    con.execute(
        """create table fct_shipment_events as
        with linked as (
            select e.event_id, e.source, e.source_event_id,
                   coalesce(e.carrier_code, bi.carrier_code, bt.carrier_code) as carrier_code,
                   e.carrier_shipment_ref, coalesce(bi.shipment_id, bt.shipment_id) as shipment_id,
                   e.code_list, e.raw_code, e.raw_reason_code, e.reason_code_list, e.raw_classifier,
                   e.empty_indicator_code, e.facility_type_code, e.resolved_locode as location_locode,
                   case
                       when e.resolved_locode is null then 'OTHER'
                       when e.resolved_locode = coalesce(bi.destination_locode, bt.destination_locode)
                           then 'DESTINATION'
                       when e.resolved_locode = coalesce(bi.origin_locode, bt.origin_locode)
                           then 'ORIGIN'
                       else 'OTHER'
                   end as location_role,
                   e.event_at, e.event_local, e.event_time_zone, e.event_time_basis, e.received_at,
                   e.event_remark
            from events_localized e
            left join shipments_agg bi
                on e.shipment_ref_type = 'SHIPMENT_ID' and e.carrier_shipment_ref = bi.shipment_id
            left join shipments_agg bt
                on e.shipment_ref_type = 'TRACKING_NUMBER' and e.carrier_shipment_ref = bt.tracking_number
            where not e.is_retracted
        ),
        best_rules as (
            select l.event_id, r.milestone, r.classifier, r.milestone_priority, r.exception_type,
                   r.responsible_party, r.mapping_version
            from linked l join code_rules r
                on l.code_list = r.code_list and l.raw_code = r.raw_code
                and (r.carrier_code = '*' or r.carrier_code = l.carrier_code)
                and (r.raw_reason_code = '*' or r.raw_reason_code = l.raw_reason_code)
                and (r.empty_indicator_code = '*' or r.empty_indicator_code = l.empty_indicator_code)
                and (r.facility_type_code = '*' or r.facility_type_code = l.facility_type_code)
                and (r.location_role = '*' or r.location_role = l.location_role)
            qualify row_number() over (
                partition by l.event_id order by r.rule_specificity desc, r.milestone_priority) = 1
        ),
        best_remarks as (
            select l.event_id, r.exception_type, r.responsible_party, r.mapping_version
            from linked l join seed_map_event_remark_rules r
                on l.code_list = r.code_list and l.raw_code = r.raw_code
                and (r.carrier_code = '*' or r.carrier_code = l.carrier_code)
                and position(lower(r.remark_contains) in lower(l.event_remark)) > 0
            qualify row_number() over (
                partition by l.event_id
                order by case when r.carrier_code = '*' then 1 else 0 end,
                         length(r.remark_contains) desc, r.remark_contains) = 1
        ),
        mapped as (
            select l.*,
                   coalesce(b.milestone, 'UNKNOWN') as milestone,
                   case when b.classifier is not null then b.classifier
                        when l.raw_classifier = 'REQ' then 'PLN'
                        when l.raw_classifier in ('PLN', 'EST', 'ACT') then l.raw_classifier
                        else 'ACT' end as classifier,
                   coalesce(b.milestone_priority, 1) as milestone_priority,
                   b.milestone is not null as is_mapped,
                   b.exception_type as rule_exception_type,
                   b.responsible_party as rule_responsible_party,
                   rr.is_normal as is_normal_reason, rr.exception_type as reason_exception_type,
                   rr.responsible_party as reason_responsible_party,
                   m.exception_type as remark_exception_type,
                   m.responsible_party as remark_responsible_party
            from linked l
            left join best_rules b on l.event_id = b.event_id
            left join best_remarks m on l.event_id = m.event_id
            left join reason_rules rr
                on l.reason_code_list = rr.reason_code_list and l.raw_reason_code = rr.reason_code
        ),
        classified as (
            select *, (milestone = 'EXCEPTION' or rule_exception_type is not null
                       or coalesce(not is_normal_reason, false)) as is_exception
            from mapped
        )
        select event_id, source_event_id, shipment_id, carrier_shipment_ref, source, carrier_code,
               code_list, raw_code, raw_reason_code, milestone, classifier,
               case when is_exception then coalesce(remark_exception_type, rule_exception_type,
                                                    reason_exception_type, 'OTHER') end as exception_type,
               case when is_exception then coalesce(
                   case when not is_normal_reason then reason_responsible_party end,
                   remark_responsible_party, rule_responsible_party, 'UNKNOWN') end as responsible_party,
               event_remark, location_locode, location_role, event_time_zone, event_time_basis,
               milestone_priority, shipment_id is null as is_unknown_shipment, is_mapped,
               is_exception, event_at, event_local, received_at
        from classified"""
    )


def stage_milestones(con) -> None:
    con.execute(
        """create table shipment_milestones as
        with me as (
            select event_id, shipment_id, milestone, classifier, milestone_priority, event_at,
                   received_at
            from fct_shipment_events
            where shipment_id is not null and event_at is not null
            union all
            select null, shipment_id, 'ORDER_CREATED', 'ACT', 1, order_created_at, order_created_at
            from shipments_agg where order_created_at is not null
        ),
        ranked as (
            select me.*, row_number() over (
                partition by me.shipment_id, me.milestone, me.classifier
                order by case when me.classifier = 'ACT' then me.milestone_priority end,
                         case when me.classifier = 'ACT' then me.event_at end,
                         me.received_at desc, me.event_at desc, me.event_id) as event_rank
            from me join seed_canonical_milestones m on me.milestone = m.milestone
            where m.milestone_sequence is not null or m.is_terminal
        ),
        agg as (
            select shipment_id, milestone,
                   max(case when classifier = 'EST' and event_rank = 1 then event_at end) as estimated_at,
                   max(case when classifier = 'ACT' and event_rank = 1 then event_at end) as actual_at
            from ranked group by shipment_id, milestone
        )
        select agg.*, m.milestone_sequence,
               coalesce(m.milestone_sequence is not null and agg.actual_at < max(agg.actual_at) over (
                   partition by agg.shipment_id order by m.milestone_sequence
                   rows between unbounded preceding and 1 preceding), false) as is_out_of_order
        from agg join seed_canonical_milestones m on agg.milestone = m.milestone"""
    )


def stage_shipments(con, v: dict) -> None:
    excused = ", ".join(q(p) for p in v["on_time_excused_responsible_parties"])
    pe, pg = (
        int(v["on_time_pickup_early_tolerance_hours"] * 60),
        int(v["on_time_pickup_grace_hours"] * 60),
    )
    de, dg = (
        int(v["on_time_delivery_early_tolerance_hours"] * 60),
        int(v["on_time_delivery_grace_hours"] * 60),
    )
    actual = [
        "BOOKED",
        "PICKED_UP",
        "DEPARTED",
        "ARRIVED",
        "CUSTOMS_CLEARED",
        "OUT_FOR_DELIVERY",
        "DELIVERED",
        "RETURNED",
        "CANCELLED",
    ]
    pivot = ",\n".join(
        f"max(case when milestone = '{m}' then actual_at end) as {m.lower()}_at" for m in actual
    )
    con.execute(
        f"""create table fct_shipments as
        with pm as (
            select shipment_id, {pivot},
                   max(case when milestone = 'DELIVERED' then estimated_at end) as delivery_estimated_at,
                   max(case when is_out_of_order then 1 else 0 end) = 1 as has_out_of_order_milestone
            from shipment_milestones group by shipment_id
        ),
        cs as (
            select e.shipment_id, e.milestone as current_status, e.event_at as current_status_at
            from fct_shipment_events e join seed_canonical_milestones m on e.milestone = m.milestone
            where e.shipment_id is not null and e.classifier = 'ACT' and e.is_mapped
                and e.event_at is not null
            qualify row_number() over (
                partition by e.shipment_id
                order by case when m.is_terminal then 0 else 1 end, e.event_at desc,
                         m.milestone_sequence desc, e.event_id) = 1
        ),
        ee as (
            select shipment_id, exception_type, responsible_party,
                   case when responsible_party in ({excused}) then 0 else 1 end as excuse_group,
                   row_number() over (
                       partition by shipment_id,
                           case when responsible_party in ({excused}) then 0 else 1 end
                       order by event_at, event_id) as party_rank
            from fct_shipment_events where shipment_id is not null and is_exception
        ),
        es as (
            select shipment_id, count(*) as exception_count,
                   max(case when exception_type = 'DAMAGED' then 1 else 0 end) = 1 as is_damaged,
                   max(case when excuse_group = 0 and party_rank = 1 then responsible_party end) as first_excused_party,
                   max(case when excuse_group = 1 and party_rank = 1 then responsible_party end) as first_other_party,
                   string_agg(distinct exception_type, ', ' order by exception_type) as exception_types
            from ee group by shipment_id
        ),
        j as (
            select s.*, c.carrier_name, pm.* exclude (shipment_id),
                   cs.current_status, cs.current_status_at,
                   coalesce(es.exception_count, 0) as exception_count, es.exception_types,
                   coalesce(es.is_damaged, false) as is_damaged,
                   es.first_excused_party, es.first_other_party
            from shipments_agg s
            left join stg_carriers c on s.carrier_code = c.carrier_code
            left join pm on s.shipment_id = pm.shipment_id
            left join cs on s.shipment_id = cs.shipment_id
            left join es on s.shipment_id = es.shipment_id
        ),
        f as (
            select j.*,
                   case when picked_up_at is null or planned_pickup_end_at is null then null
                        else {within("picked_up_at", "planned_pickup_start_at", "planned_pickup_end_at", pe, pg)}
                   end as is_picked_up_on_time,
                   case when delivered_at is null or planned_delivery_end_at is null then null
                        else {within("delivered_at", "planned_delivery_start_at", "planned_delivery_end_at", de, dg)}
                   end as is_delivered_on_time
            from j
        )
        select shipment_id, tracking_number, carrier_code, carrier_name, transport_mode,
               origin_locode, origin_country, destination_locode, destination_country,
               current_status, exception_types,
               case when is_delivered_on_time = false
                    then coalesce(first_excused_party, first_other_party, 'UNKNOWN')
               end as late_delivery_responsible_party,
               order_count, exception_count,
               case when delivered_at >= picked_up_at
                    then date_diff('second', picked_up_at, delivered_at) / 3600.0 end as transit_time_hours,
               picked_up_at is not null as is_picked_up, delivered_at is not null as is_delivered,
               is_picked_up_on_time,
               case when is_picked_up_on_time is null then null
                    else is_picked_up_on_time or first_excused_party is not null
               end as is_picked_up_on_time_controllable,
               is_delivered_on_time,
               case when is_delivered_on_time is null then null
                    else is_delivered_on_time or first_excused_party is not null
               end as is_delivered_on_time_controllable,
               exception_count > 0 as has_exception, is_damaged,
               coalesce(has_out_of_order_milestone, false) as has_out_of_order_milestone,
               order_created_at, planned_pickup_start_at, planned_pickup_end_at,
               planned_delivery_start_at, planned_delivery_end_at, booked_at, picked_up_at,
               departed_at, arrived_at, customs_cleared_at, out_for_delivery_at, delivered_at,
               returned_at, cancelled_at, delivery_estimated_at, current_status_at
        from f"""
    )


def stage_orders(con, v: dict) -> None:
    if v["order_on_time_reference"] not in ("customer_promise", "carrier_plan"):
        raise SystemExit("order_on_time_reference must be customer_promise or carrier_plan")
    early = int(v["order_on_time_early_tolerance_hours"] * 60)
    grace = int(v["order_on_time_grace_hours"] * 60)
    ref = (
        "o.promised_delivery"
        if v["order_on_time_reference"] == "customer_promise"
        else "sa.planned_delivery"
    )
    as_of = (
        f"select cast({q(v['order_kpi_as_of'])} as timestamp) as as_of_at"
        if v["order_kpi_as_of"]
        else "select max(current_status_at) as as_of_at from fct_shipments"
    )
    grain = v["order_otif_grain"]
    otif = {
        "order": (
            "cast(case when is_otif then 1 else 0 end as bigint)",
            "cast(case when is_otif is not null then 1 else 0 end as bigint)",
        ),
        "line": (
            "cast(case when is_otif is not null then lines_on_time_in_full else 0 end as bigint)",
            "cast(case when is_otif is not null then lines_total else 0 end as bigint)",
        ),
        "unit": (
            "cast(case when is_otif is not null then units_on_time_in_full else 0 end as bigint)",
            "cast(case when is_otif is not null then units_ordered else 0 end as bigint)",
        ),
    }[grain]
    con.execute(
        f"""create table fct_orders as
        with
        ol as (
            select o.*, coalesce(r.quantity_returned, 0) as quantity_returned,
                   coalesce(r.has_damaged_return, false) as has_damaged_return
            from stg_orders o left join (
                select order_id, line_number, sum(quantity_returned) as quantity_returned,
                       bool_or(return_reason = 'DAMAGED') as has_damaged_return
                from stg_returns group by order_id, line_number
            ) r on o.order_id = r.order_id and o.line_number = r.line_number
        ),
        sl as (
            select s.shipment_id, s.order_id, s.line_number, s.quantity_shipped, s.shipped_at
            from stg_shipments s semi join stg_orders o
                on s.order_id = o.order_id and s.line_number = o.line_number
        ),
        kpi_as_of as ({as_of}),
        o as (
            select order_id, count(*) as lines_total, sum(quantity_ordered) as units_ordered,
                   min(created_at) as created_at,
                   min(promised_delivery_start_at) as promised_delivery_start_at,
                   min(promised_delivery_end_at) as promised_delivery_end_at
            from ol group by order_id
        ),
        holds as (
            select distinct shipment_id from fct_shipment_events
            where is_exception and exception_type = 'CUSTOMS_HOLD'
        ),
        os as (
            select distinct sl.order_id, sl.shipment_id, s.booked_at, s.picked_up_at, s.delivered_at,
                   s.planned_delivery_start_at, s.planned_delivery_end_at,
                   coalesce(s.is_damaged, false) as is_damaged,
                   h.shipment_id is not null as has_customs_hold,
                   min(sl.shipped_at) over (partition by sl.order_id, sl.shipment_id) as shipment_shipped_at
            from sl left join fct_shipments s on sl.shipment_id = s.shipment_id
            left join holds h on sl.shipment_id = h.shipment_id
        ),
        fs as (
            select order_id, shipment_id as first_shipment_id from os
            qualify row_number() over (partition by order_id
                order by coalesce(booked_at, shipment_shipped_at), shipment_shipped_at, shipment_id) = 1
        ),
        sa as (
            select order_id, count(*) as shipment_count, min(booked_at) as booked_at,
                   min(picked_up_at) as picked_up_at,
                   case when count(delivered_at) = count(*) then max(delivered_at) end as delivered_at,
                   min(planned_delivery_start_at) as planned_delivery_start_at,
                   max(planned_delivery_end_at) as planned_delivery_end_at,
                   bool_or(is_damaged) as has_damaged_shipment, bool_or(has_customs_hold) as has_customs_hold
            from os group by order_id
        ),
        w as (
            select o.*, sa.shipment_count, sa.booked_at, sa.picked_up_at, sa.delivered_at,
                   sa.has_damaged_shipment, sa.has_customs_hold, fs.first_shipment_id,
                   {ref}_start_at as reference_window_start_at,
                   {ref}_end_at as reference_window_end_at, k.as_of_at
            from o cross join kpi_as_of k
            left join sa on o.order_id = sa.order_id
            left join fs on o.order_id = fs.order_id
        ),
        slt as (
            select sl.order_id, sl.line_number, sl.quantity_shipped,
                   sl.shipment_id = w.first_shipment_id as is_first_shipment,
                   s.delivered_at is not null and {within("s.delivered_at", "w.reference_window_start_at", "w.reference_window_end_at", early, grace)} as is_delivered_on_time
            from sl join w on sl.order_id = w.order_id
            left join fct_shipments s on sl.shipment_id = s.shipment_id
        ),
        lsa as (
            select order_id, line_number, sum(quantity_shipped) as units_shipped,
                   sum(case when is_first_shipment then quantity_shipped else 0 end) as units_on_first_shipment,
                   sum(case when is_delivered_on_time then quantity_shipped else 0 end) as units_delivered_on_time,
                   bool_and(is_delivered_on_time) as is_line_delivered_on_time
            from slt group by order_id, line_number
        ),
        lf as (
            select ol.order_id, coalesce(lsa.units_shipped, 0) as units_shipped,
                   least(coalesce(lsa.units_shipped, 0), ol.quantity_ordered) as units_filled,
                   coalesce(lsa.units_shipped, 0) >= ol.quantity_ordered as is_line_complete,
                   coalesce(lsa.units_on_first_shipment, 0) >= ol.quantity_ordered as is_line_complete_on_first_shipment,
                   least(coalesce(lsa.units_delivered_on_time, 0), ol.quantity_ordered) as units_on_time_in_full,
                   coalesce(lsa.units_shipped, 0) >= ol.quantity_ordered
                       and coalesce(lsa.is_line_delivered_on_time, false) as is_line_on_time_in_full,
                   ol.quantity_returned as units_returned, ol.has_damaged_return
            from ol left join lsa on ol.order_id = lsa.order_id and ol.line_number = lsa.line_number
        ),
        la as (
            select order_id, sum(units_shipped) as units_shipped, sum(units_filled) as units_filled,
                   sum(units_on_time_in_full) as units_on_time_in_full,
                   sum(units_returned) as units_returned,
                   count(case when is_line_complete then 1 end) as lines_complete,
                   count(case when is_line_on_time_in_full then 1 end) as lines_on_time_in_full,
                   bool_and(is_line_complete) as is_in_full,
                   bool_and(is_line_complete_on_first_shipment) as is_filled_on_first_shipment,
                   bool_or(has_damaged_return) as has_damaged_return
            from lf group by order_id
        ),
        fl as (
            select w.*, la.* exclude (order_id),
                   w.reference_window_end_at is not null
                       and w.reference_window_end_at + interval ({grace}) minute <= w.as_of_at as is_due,
                   case
                       when w.delivered_at is not null and w.reference_window_end_at is not null
                           then {within("w.delivered_at", "w.reference_window_start_at", "w.reference_window_end_at", early, grace)}
                       when w.reference_window_end_at + interval ({grace}) minute <= w.as_of_at then false
                   end as is_on_time
            from w join la on w.order_id = la.order_id
        ),
        sc as (
            select *, not (coalesce(has_damaged_shipment, false) or has_damaged_return) as is_damage_free,
                   not coalesce(has_customs_hold, false) as is_documentation_accurate,
                   case when is_on_time is not null then is_on_time and is_in_full end as is_otif
            from fl
        )
        select order_id, first_shipment_id,
               cast(lines_total as bigint) as lines_total, cast(lines_complete as bigint) as lines_complete,
               cast(lines_on_time_in_full as bigint) as lines_on_time_in_full,
               cast(units_ordered as bigint) as units_ordered, cast(units_shipped as bigint) as units_shipped,
               cast(units_filled as bigint) as units_filled,
               cast(units_on_time_in_full as bigint) as units_on_time_in_full,
               cast(units_returned as bigint) as units_returned,
               cast(coalesce(shipment_count, 0) as bigint) as shipment_count,
               date_diff('second', created_at, delivered_at) / 86400.0 as cycle_time_days,
               {otif[0]} as otif_numerator, {otif[1]} as otif_denominator,
               coalesce(shipment_count, 0) > 1 as is_split_shipment,
               delivered_at is not null as is_delivered, is_due, is_on_time, is_in_full,
               coalesce(is_filled_on_first_shipment, false) as is_filled_on_first_shipment,
               is_damage_free, is_documentation_accurate, is_otif,
               case when is_on_time is not null
                    then is_on_time and is_in_full and is_damage_free and is_documentation_accurate
               end as is_perfect_order,
               created_at, reference_window_start_at, reference_window_end_at, booked_at,
               picked_up_at, delivered_at, as_of_at
        from sc"""
    )


ON_TIME_COLS = """
    sum(case when is_picked_up_on_time then 1 else 0 end) as on_time_pickup_numerator,
    count(is_picked_up_on_time) as on_time_pickup_denominator,
    sum(case when is_picked_up_on_time_controllable then 1 else 0 end) as on_time_pickup_controllable_numerator,
    count(is_picked_up_on_time_controllable) as on_time_pickup_controllable_denominator,
    sum(case when is_delivered_on_time then 1 else 0 end) as on_time_delivery_numerator,
    count(is_delivered_on_time) as on_time_delivery_denominator,
    sum(case when is_delivered_on_time_controllable then 1 else 0 end) as on_time_delivery_controllable_numerator,
    count(is_delivered_on_time_controllable) as on_time_delivery_controllable_denominator"""


def stage_on_time(con) -> None:
    con.execute(
        f"create table carrier_on_time as select carrier_code, {ON_TIME_COLS} "
        "from fct_shipments group by carrier_code"
    )


# --------------------------------------------------------------------------- check

CHECKS = {
    "fct_shipment_events": (
        "event_id, source_event_id, shipment_id, carrier_shipment_ref, source, carrier_code, "
        "code_list, raw_code, raw_reason_code, milestone, classifier, exception_type, "
        "responsible_party, event_remark, location_locode, location_role, event_time_zone, "
        "event_time_basis, milestone_priority, is_unknown_shipment, is_mapped, is_exception, "
        "event_at, event_local, received_at"
    ),
    "fct_shipments": (
        "shipment_id, tracking_number, carrier_code, carrier_name, transport_mode, "
        "origin_locode, origin_country, destination_locode, destination_country, current_status, "
        "exception_types, late_delivery_responsible_party, order_count, exception_count, "
        "transit_time_hours, is_picked_up, is_delivered, is_picked_up_on_time, "
        "is_picked_up_on_time_controllable, is_delivered_on_time, "
        "is_delivered_on_time_controllable, has_exception, is_damaged, "
        "has_out_of_order_milestone, order_created_at, planned_pickup_start_at, "
        "planned_pickup_end_at, planned_delivery_start_at, planned_delivery_end_at, booked_at, "
        "picked_up_at, departed_at, arrived_at, customs_cleared_at, out_for_delivery_at, "
        "delivered_at, returned_at, cancelled_at, delivery_estimated_at, current_status_at"
    ),
    "fct_orders": (
        "order_id, first_shipment_id, lines_total, lines_complete, lines_on_time_in_full, "
        "units_ordered, units_shipped, units_filled, units_on_time_in_full, units_returned, "
        "shipment_count, cycle_time_days, otif_numerator, otif_denominator, is_split_shipment, "
        "is_delivered, is_due, is_on_time, is_in_full, is_filled_on_first_shipment, "
        "is_damage_free, is_documentation_accurate, is_otif, is_perfect_order, created_at, "
        "reference_window_start_at, reference_window_end_at, booked_at, picked_up_at, "
        "delivered_at, as_of_at"
    ),
}


def check(con, snapshot: str) -> int:
    con.execute(f"attach {q(snapshot)} as snap (read_only)")
    bad = 0
    tables = dict(CHECKS)
    results = []
    for table, cols in tables.items():
        ours = f"select {cols} from {table}"
        theirs = f"select {cols} from snap.marts.{table}"
        a = con.execute(f"select count(*) from ({ours} except all {theirs})").fetchone()[0]
        b = con.execute(f"select count(*) from ({theirs} except all {ours})").fetchone()[0]
        results.append((table, a, b))
    ours = "select * from carrier_on_time"
    theirs = (
        "select carrier_code, "
        + ", ".join(
            f"sum({c}) as {c}"
            for c in (
                "on_time_pickup_numerator",
                "on_time_pickup_denominator",
                "on_time_pickup_controllable_numerator",
                "on_time_pickup_controllable_denominator",
                "on_time_delivery_numerator",
                "on_time_delivery_denominator",
                "on_time_delivery_controllable_numerator",
                "on_time_delivery_controllable_denominator",
            )
        )
        + " from snap.marts.rpt_carrier_scorecard group by carrier_code"
    )
    a = con.execute(f"select count(*) from ({ours} except all {theirs})").fetchone()[0]
    b = con.execute(f"select count(*) from ({theirs} except all {ours})").fetchone()[0]
    results.append(("carrier_on_time", a, b))
    print("\ncheck against", snapshot)
    for table, a, b in results:
        status = "OK" if a == b == 0 else "DIFF"
        print(f"  {table:<22} only in floor {a:>7,}  only in marts {b:>7,}  {status}")
        bad += a + b
    return bad


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--check", help="snapshot DuckDB file with the project's marts")
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    landing = args.data_dir / "landing"
    if not landing.is_dir():
        raise SystemExit(f"no landing folder under {args.data_dir}")
    dbt_vars = yaml.safe_load(DBT_PROJECT.read_text())["vars"]

    with tempfile.TemporaryDirectory(prefix="waybill-floor-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "floor.duckdb"))
        con.execute(
            f"set memory_limit = {q(args.memory_limit)}; set threads = {args.threads}; "
            f"set TimeZone = 'UTC'; set temp_directory = {q(tmp)}; "
            "set preserve_insertion_order = true"
        )
        timings: list[tuple[str, float]] = []
        t_all = time.perf_counter()

        def timed(name, fn, *a):
            t0 = time.perf_counter()
            fn(*a)
            timings.append((name, time.perf_counter() - t0))

        detail: list[tuple[str, float]] = []
        timed("parse/load", stage_load, con, landing, detail)
        timed("staging", stage_staging, con)
        timed("events", stage_events, con)
        timed("milestones", stage_milestones, con)
        timed("shipments", stage_shipments, con, dbt_vars)
        timed("orders", stage_orders, con, dbt_vars)
        timed("on-time", stage_on_time, con)
        total = time.perf_counter() - t_all

        for name, secs in timings:
            print(f"{name:<12} {secs:8.2f} s")
            if name == "parse/load":
                print("  " + ", ".join(f"{n} {s:.2f}" for n, s in detail))
        print(f"{'total':<12} {total:8.2f} s")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS     {rss:8.0f} MiB")
        for t in (
            "raw_orders",
            "raw_shipments",
            "raw_x12_214",
            "raw_dcsa",
            "raw_parcel",
            "raw_csv_events",
            "fct_shipment_events",
            "fct_shipments",
            "fct_orders",
            "carrier_on_time",
        ):
            print(f"  {t:<22} {con.execute(f'select count(*) from {t}').fetchone()[0]:>10,} rows")
        bad = check(con, args.check) if args.check else 0
        con.close()
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
