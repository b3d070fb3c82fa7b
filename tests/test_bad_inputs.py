"""Every parser and the loader against the bad-input corpus (tests/bad_inputs/corpus.py).

For each case: the load finishes, a good file of the same feed beside it still loads, rows
read = loaded + quarantined (or the file is FAILED with a reason), and each quarantine entry
names the file, the position, the field (for a field's rule) and the rule.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.contracts import FEEDS
from ingestion.load import load_landing
from tests.bad_inputs.corpus import (
    CASES,
    DCSA_INVALID,
    DCSA_V22,
    R1,
    R2,
    R3,
    RETURNS,
    Case,
    x12_210,
    x12_214,
)

CONFORMANCE = (
    Path(__file__).resolve().parents[2]
    / "shared/datasets/dcsa_track_and_trace_samples/conformance_messages"
)
needs_conformance = pytest.mark.skipif(
    not CONFORMANCE.is_dir() and not os.environ.get("CI"),
    reason="DCSA conformance messages not available (../shared/datasets)",
)

#: A good file per feed used in the corpus: it must load whatever its neighbour does.
GOOD = {
    "returns": ("zz_good.csv", f"{RETURNS}\nRMA9,O9,1,1,DEFECT,2026-10-09T10:00:00Z\n"),
    "carriers": ("zz_good.csv", "carrier_code,carrier_name\nZZZ,Good Carrier\n"),
    "carrier_invoices_csv": (
        "zz_good.csv",
        "invoice_number,carrier_code,invoice_date,currency,line_number,charge_code,amount\n"
        "INV9,UPS,2026-10-01,USD,1,FRT,9.00\n",
    ),
    "csv_events": (
        "zz_good.csv",
        "shipment_id,carrier_code,event_code,event_time\nS9,SNDR,PU,2026-10-01T10:00:00Z\n",
    ),
    "dcsa": (
        "zz_good.json",
        '[{"eventID": "g1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", '
        '"eventDateTime": "2026-10-01T10:00:00Z", "transportEventTypeCode": "DEPA"}]',
    ),
    "parcel": (
        "zz_good.json",
        '{"shipments": [{"id": "JD1", "events": [{"typeCode": "PU", '
        '"timestamp": "2026-10-01T10:00:00+02:00"}]}]}',
    ),
    "x12_214": ("zz_good.edi", x12_214(isa_control="000000777", iea_control="000000777")),
    "x12_210": ("zz_good.edi", x12_210()),
    "orders": (
        "zz_good.csv",
        "order_id,line_number,customer_id,created_at,promised_delivery_end,incoterm,"
        "origin_country,destination_country,currency,sku,quantity,unit_price\n"
        "O9,1,CUST-9,2026-10-01T10:00:00Z,2026-10-05T18:00:00Z,FOB,DE,US,EUR,SKU-9,2,10.00\n",
    ),
    "fx_rates": ("zz_good.csv", "Date,USD,\n2026-09-30,1.0840,\n"),
}


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def place(landing: Path, feed: str, name: str, content: bytes) -> Path:
    folder = landing / FEEDS[feed].folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def lineage(path: Path) -> str:
    """How the loader names ``path`` in lineage: relative to the data directory, the folder
    holding ``landing/`` (ingestion.load.lineage_name)."""
    parts = path.parts
    start = len(parts) - 1 - parts[::-1].index("landing")
    return Path(*parts[start:]).as_posix()


def good_content(feed: str) -> bytes:
    return GOOD[feed][1].encode()


def log_of(con, path: Path) -> tuple:
    return con.execute(
        "select status, rows_read, rows_loaded, rows_quarantined, error from meta.load_log "
        "where source_file = ?",
        [lineage(path)],
    ).fetchall()[0]


def quarantine_of(con, path: Path) -> list[tuple]:
    return con.execute(
        "select position, field, rule, reason, value from meta.quarantine where source_file = ? "
        "order by row_number",
        [lineage(path)],
    ).fetchall()


def assert_outcome(con, path: Path, feed: str, failed, loaded, quarantined) -> None:
    status, read, n_loaded, n_quarantined, error = log_of(con, path)
    entries = quarantine_of(con, path)
    if failed:
        position, words = failed
        assert status == "FAILED", (status, entries)
        assert position in error and words in error, error
        [(q_position, _field, rule, reason, _value)] = entries
        assert rule == "file" and position in q_position and words in reason
        return
    assert status in ("LOADED", "LOADED_WITH_QUARANTINE"), error
    assert read == n_loaded + n_quarantined
    assert (n_loaded, n_quarantined) == (loaded, len(quarantined)), entries
    got = [(p, f, r) for p, f, r, _reason, _value in entries]
    assert got == list(quarantined)
    in_raw = con.execute(
        f"select count(*) from raw.{FEEDS[feed].table} where _source_file = ?", [lineage(path)]
    ).fetchall()[0][0]
    assert in_raw == loaded
    for _p, fld, rule, reason, value in entries:
        assert reason  # a sentence a person can act on
        if rule not in ("structure", "file"):
            assert fld and fld in reason and (value is None or value in reason)


def test_the_committed_corpus_is_what_the_script_writes():
    for case in CASES:
        assert case.path.read_bytes() == case.content, (
            f"run python -m tests.bad_inputs.corpus ({case.id})"
        )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_bad_input_is_loaded_or_reported_and_its_neighbour_still_loads(
    case: Case, tmp_path, con
):
    landing = tmp_path / "landing"
    path = place(landing, case.feed, case.file, case.path.read_bytes())
    good = place(landing, case.feed, GOOD[case.feed][0], good_content(case.feed))
    report = load_landing(con, landing)
    assert len(report.files) == 2
    assert_outcome(con, path, case.feed, case.failed, case.loaded, case.quarantined)
    assert log_of(con, good)[0] == "LOADED"
    for column, value in case.raw_values:
        found = con.execute(
            f'select "{column}" from raw.{FEEDS[case.feed].table} where _source_file = ?',
            [lineage(path)],
        ).fetchall()
        assert found == [(value,)]


def test_the_whole_corpus_in_one_landing_zone_loads_in_one_run_and_reconciles(tmp_path, con):
    landing = tmp_path / "landing"
    paths = [place(landing, c.feed, c.file, c.path.read_bytes()) for c in CASES]
    report = load_landing(con, landing)
    # Byte-identical files (none here) would be skipped; every file is accounted for.
    assert {f.source_file for f in report.files} == {lineage(p) for p in paths}
    assert all(f.rows_read == f.rows_loaded + f.rows_quarantined for f in report.files)
    failed = {Path(f.source_file).name for f in report.files if f.status == "FAILED"}
    assert failed == {c.file for c in CASES if c.failed}
    totals = con.execute(
        "select sum(rows_loaded), sum(rows_quarantined) from meta.load_log"
    ).fetchall()[0]
    assert totals == (
        sum(c.loaded for c in CASES),
        sum(len(c.quarantined) for c in CASES),
    )


@needs_conformance
@pytest.mark.parametrize("name", sorted(DCSA_INVALID))
def test_dcsa_samples_that_are_invalid_on_purpose(name, tmp_path, con):
    landing = tmp_path / "landing"
    path = place(landing, "dcsa", name, (CONFORMANCE / name).read_bytes())
    good = place(landing, "dcsa", *GOOD["dcsa"][:1], good_content("dcsa"))
    load_landing(con, landing)
    expected = DCSA_INVALID[name]
    assert_outcome(con, path, "dcsa", None, expected["loaded"], tuple(expected["quarantined"]))
    assert log_of(con, good)[0] == "LOADED"


def test_duplicate_file_names_with_different_content_both_load_as_versions(tmp_path, con):
    landing = tmp_path / "landing"
    path = place(landing, "returns", "daily.csv", f"{RETURNS}\n{R1}\n".encode())
    load_landing(con, landing)
    place(
        landing, "returns", "daily.csv", f"{RETURNS}\n{R1.replace(',2,', ',3,')}\n{R2}\n".encode()
    )
    report = load_landing(con, landing)
    assert [f.status for f in report.files] == ["LOADED"]
    log = con.execute(
        "select source_file, file_sha256, rows_loaded from meta.load_log order by load_id"
    ).fetchall()
    assert [(s, n) for s, _sha, n in log] == [(lineage(path), 1), (lineage(path), 2)]
    assert log[0][1] != log[1][1]
    # Both versions are in raw with their own load id; staging keeps the later one per key.
    assert con.execute(
        "select rma_number, quantity, _load_id from raw.returns order by _load_id, rma_number"
    ).fetchall() == [("RMA1", "2", 1), ("RMA1", "3", 2), ("RMA2", "1", 2)]
    # And the same name in another feed's folder is a different file altogether.
    other = place(landing, "carriers", "daily.csv", b"carrier_code,carrier_name\nX,Y\n")
    load_landing(con, landing)
    assert log_of(con, other)[:3] == ("LOADED", 1, 1)


@pytest.mark.slow
def test_a_100_mb_file_of_repeated_rows_loads_every_row(tmp_path, con):
    """Generated here, not committed: 100 MB of the same few rows repeated."""
    landing = tmp_path / "landing"
    folder = landing / FEEDS["returns"].folder
    folder.mkdir(parents=True)
    block = "\n".join([R1, R2, R3, "RMA4,O4,1,-1,DEFECT,2026-10-04T10:00:00Z"]) + "\n"
    repeats = (100 * 1024 * 1024) // len(block) + 1
    path = folder / "repeated.csv"
    with open(path, "w") as fh:
        fh.write(RETURNS + "\n")
        for _ in range(repeats // 1000):
            fh.write(block * 1000)
        fh.write(block * (repeats % 1000))
    assert path.stat().st_size >= 100 * 1024 * 1024
    [result] = load_landing(con, landing).files
    assert result.status == "LOADED_WITH_QUARANTINE"
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        4 * repeats,
        3 * repeats,
        repeats,
    )
    # Positions still point at the right physical line deep in the file.
    last = con.execute(
        "select max(row_number), max(position) filter (where row_number = 5) from meta.quarantine"
    ).fetchall()[0]
    assert last == (4 * repeats + 1, "line 5")


# ----------------------------------------------------------------- property-based corruption


def _valid_feed() -> bytes:
    rows = [R1, R2, R3] + [
        f"RMA{i},O{i},{i % 5 + 1},{i % 3 + 1},DEFECT,2026-10-{i % 28 + 1:02d}T10:00:00Z"
        for i in range(10, 40)
    ]
    return ("\n".join([RETURNS, *rows]) + "\n").encode()


VALID = _valid_feed()


@st.composite
def corruptions(
    draw,
    valid: bytes = VALID,
    alphabet: tuple[bytes, ...] = (
        b",",
        b"\n",
        b'"',
        b";",
        b"\r",
        b"\x00",
        b"\xff",
        b"9",
        b"-",
        b" ",
    ),
) -> bytes:
    """A valid feed with a few random byte edits: overwrite, insert, delete, truncate."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        byte = draw(st.sampled_from(alphabet))
        if kind == "overwrite" and data:
            data[pos : pos + 1] = byte
        elif kind == "insert":
            data[pos:pos] = byte
        elif kind == "delete" and data:
            del data[pos]
        elif kind == "truncate":
            del data[pos:]
    return bytes(data)


def load_corrupted(tmp: Path, feed: str, name: str, content: bytes) -> int | None:
    """Load one corrupted file alone and check nothing vanished: it is FAILED with a reason and
    nothing reached raw, or every row the reader saw is loaded or quarantined and the raw table
    holds exactly the loaded rows. Returns the rows read (None for a FAILED file)."""
    path = place(tmp / "landing", feed, name, content)
    con = duckdb.connect(str(tmp / "w.duckdb"))
    try:
        [_result] = load_landing(con, tmp / "landing").files
        status, read, loaded, quarantined, error = log_of(con, path)
        table = FEEDS[feed].table
        in_raw = con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
        entries = con.execute("select count(*) from meta.quarantine").fetchall()[0][0]
        if status == "FAILED":
            assert error and in_raw == 0 and entries == 1
            return None
        assert read == loaded + quarantined and in_raw == loaded and entries == quarantined
        return read
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=corruptions())
def test_random_corruption_of_a_valid_feed_never_loses_a_row_silently(content, tmp_path_factory):
    """Whatever happens to the bytes, the file is FAILED with a reason, or every row the
    reader saw is loaded or quarantined, and the raw table holds exactly the loaded rows."""
    read = load_corrupted(tmp_path_factory.mktemp("corrupt"), "returns", "corrupt.csv", content)
    if read is None:
        return
    # The data lines in the file: none may vanish. Every non-blank physical line after the
    # header is a row, unless a quote joined lines into one record.
    text = content.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = [x for x in text.split("\n")[1:] if x.strip()]
    if '"' not in text:
        assert read == len(lines), (read, len(lines))
    else:
        assert read <= len(lines)


#: The structured formats, with the bytes that matter to their grammar.
STRUCTURED = {
    "dcsa": (
        "corrupt.json",
        DCSA_V22.encode(),
        (b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"\x00", b"\xff", b"9", b" "),
    ),
    "x12_214": (
        "corrupt.edi",
        x12_214().encode(),
        (b"~", b"*", b">", b"\n", b"\x00", b"\xff", b"9", b"A", b" "),
    ),
}


@pytest.mark.parametrize("feed", sorted(STRUCTURED))
def test_random_corruption_of_json_and_x12_never_loses_a_row_silently(feed, tmp_path_factory):
    """The same promise for DCSA JSON and X12 214: FAILED with a reason, or rows read = loaded +
    quarantined with the raw table holding exactly the loaded rows; and when the corrupted JSON
    still parses as an array, every element is a row read."""
    name, valid, alphabet = STRUCTURED[feed]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(content=corruptions(valid, alphabet))
    def check(content: bytes) -> None:
        read = load_corrupted(tmp_path_factory.mktemp("corrupt"), feed, name, content)
        if read is None or feed != "dcsa":
            return
        try:
            doc = json.loads(content)
        except ValueError:
            return
        if isinstance(doc, list):
            assert read == len(doc), (read, len(doc))

    check()
