"""Hostile files at the file boundary: whatever one file does, it is FAILED with its name and a
reason, and every other file of every feed still loads.

Inputs are made here, not committed: JSON nested 10,000 levels (which used to raise
RecursionError and stop the whole run), a CSV and an X12 file with one multi-megabyte line,
a file over its format's size limit, invalid UTF-8 inside a JSON string, symbolic links in the
landing zone (to a file outside it, to a good file inside it, dangling, and a feed folder that
is a link out of the landing root), and a parser that raises something nobody foresaw.
"""

from __future__ import annotations

import duckdb
import pytest

import ingestion.load as load_module
from ingestion.contracts import FEEDS, MAX_FILE_BYTES, MAX_JSON_DEPTH
from ingestion.load import SYMLINK_REFUSED, load_landing
from ingestion.parsers.json_file import nesting_depth
from tests.test_bad_inputs import GOOD, good_content, log_of, place, quarantine_of

JSON_FEEDS = ("dcsa", "orders", "parcel")
#: A good JSON file per JSON feed (the corpus's good orders file is CSV).
GOOD_JSON = {
    "dcsa": GOOD["dcsa"],
    "parcel": GOOD["parcel"],
    "orders": (
        "zz_good.json",
        '[{"order_id": "O9", "customer_id": "CUST-9", "created_at": "2026-10-01T10:00:00Z", '
        '"promised_delivery_end": "2026-10-05T18:00:00Z", "incoterm": "FOB", '
        '"origin_country": "DE", "destination_country": "US", "currency": "EUR", '
        '"lines": [{"line_number": 1, "sku": "SKU-9", "quantity": 2, "unit_price": "10.00"}]}]',
    ),
}


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def assert_failed(con, path, *words: str) -> str:
    """FAILED in the load log and one file-level quarantine row, both with the reason."""
    status, read, loaded, quarantined, error = log_of(con, path)
    assert (status, read, loaded, quarantined) == ("FAILED", 0, 0, 0), error
    for w in words:
        assert w in error, error
    [(position, _field, rule, reason, _value)] = quarantine_of(con, path)
    assert rule == "file" and reason.startswith("the whole file was skipped")
    return error


def assert_good_loaded(con, landing, feeds, good=GOOD) -> None:
    for feed in feeds:
        status, read, loaded, quarantined, error = log_of(
            con, landing / FEEDS[feed].folder / good[feed][0]
        )
        assert status == "LOADED" and loaded == read >= 1, (feed, error)


def test_json_nesting_depth_is_measured_without_parsing():
    assert nesting_depth(b"[]") == 1
    assert nesting_depth(b'{"a": [{"b": "[[[["}]}') == 3  # brackets inside strings do not count
    assert nesting_depth(b'["\\"[[[", ["x"]]') == 2  # an escaped quote does not end the string
    assert nesting_depth(b"[" * 10_000 + b"]" * 10_000) == 10_000


@pytest.mark.parametrize("feed", JSON_FEEDS)
def test_json_nested_ten_thousand_levels_fails_alone(feed, tmp_path, con):
    landing = tmp_path / "landing"
    deep = place(landing, feed, "deep.json", b'{"a": ' * 10_000 + b"1" + b"}" * 10_000)
    place(landing, feed, *GOOD_JSON[feed][:1], GOOD_JSON[feed][1].encode())
    load_landing(con, landing)
    assert_failed(con, deep, "10,000 levels deep", f"limit is {MAX_JSON_DEPTH}")
    assert_good_loaded(con, landing, [feed], GOOD_JSON)


@pytest.mark.parametrize("feed", JSON_FEEDS)
def test_invalid_utf8_inside_a_json_string_fails_with_its_byte(feed, tmp_path, con):
    landing = tmp_path / "landing"
    good = GOOD_JSON[feed][1].encode()
    cut = good.index(b'"', good.index(b":")) + 1  # inside the first string value
    bad = place(landing, feed, "latin1.json", good[:cut] + b"Z\xfcrich " + good[cut:])
    place(landing, feed, GOOD_JSON[feed][0], good)
    load_landing(con, landing)
    assert_failed(con, bad, f"byte {cut + 2}", "not UTF-8")
    assert_good_loaded(con, landing, [feed], GOOD_JSON)


def test_a_csv_line_of_several_megabytes_is_rejected_as_that_line(tmp_path, con):
    landing = tmp_path / "landing"
    head, row = GOOD["csv_events"][1].splitlines()
    huge = "S8,SNDR,PU,2026-10-01T10:00:00Z," + "x" * (3 << 20)
    path = place(landing, "csv_events", "huge_line.csv", f"{head}\n{row}\n{huge}\n".encode())
    place(landing, "csv_events", GOOD["csv_events"][0], good_content("csv_events"))
    load_landing(con, landing)
    # DuckDB's reader cannot step over a line beyond its limit, so the whole file fails, named,
    # with the limit (and without quoting the line); the feed's other files load.
    error = assert_failed(con, path, "longer than 2 MiB")
    assert "xxxx" not in error
    assert_good_loaded(con, landing, ["csv_events"])


def test_an_x12_segment_of_several_megabytes_does_not_stop_the_feed(tmp_path, con):
    landing = tmp_path / "landing"
    good = good_content("x12_214").decode()
    bloated = good.replace("MS1*CHICAGO*IL*US", "MS1*" + "C" * (4 << 20) + "*IL*US", 1)
    path = place(landing, "x12_214", "bloated.edi", bloated.encode())
    place(landing, "x12_214", GOOD["x12_214"][0], good.encode())
    load_landing(con, landing)
    # X12 has no line limit: the long segment is read, every status loads.
    assert log_of(con, path)[:4] == ("LOADED", 3, 3, 0)
    assert_good_loaded(con, landing, ["x12_214"])


@pytest.mark.parametrize("feed", ["dcsa", "x12_214", "returns"])
def test_a_file_over_its_formats_size_limit_is_not_read(feed, tmp_path, con, monkeypatch):
    """A bomb-like file (a small pattern repeated to a large size) is refused by its size
    before any parser holds it in memory; the limit is lowered here to keep the test small."""
    landing = tmp_path / "landing"
    fmt = FEEDS[feed].format
    monkeypatch.setitem(MAX_FILE_BYTES, fmt, 1 << 20)
    suffix = FEEDS[feed].patterns[0].lstrip("*")
    bomb = place(landing, feed, f"bomb{suffix}", good_content(feed) * ((2 << 20) // 40))
    place(landing, feed, GOOD[feed][0], good_content(feed))
    load_landing(con, landing)
    assert_failed(con, bomb, "over the 1 MiB limit", fmt, "split it")
    assert_good_loaded(con, landing, [feed])


def test_symbolic_links_are_reported_and_never_followed(tmp_path, con):
    landing = tmp_path / "landing"
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("event_id,shipment_id\nTOP-SECRET-LINE,x\n")
    good = place(landing, "csv_events", GOOD["csv_events"][0], good_content("csv_events"))
    folder = good.parent
    (folder / "to_outside.csv").symlink_to(secret)
    (folder / "to_inside.csv").symlink_to(good)
    (folder / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    # A whole feed folder that is a link out of the landing root is not read at all.
    (landing / FEEDS["returns"].folder).symlink_to(secret.parent, target_is_directory=True)
    report = load_landing(con, landing)
    for name in ("to_outside.csv", "to_inside.csv", "dangling.csv"):
        assert_failed(con, folder / name, "symbolic link")
    assert_good_loaded(con, landing, ["csv_events"])
    assert not any(f.feed == "returns" for f in report.files)
    everything = con.execute(
        "select string_agg(coalesce(error, '') || coalesce(notes, ''), ' ') from meta.load_log"
    ).fetchall()[0][0]
    assert "TOP-SECRET" not in everything
    assert SYMLINK_REFUSED in everything
    # Reported once: a second run records nothing new for the same links.
    logged = con.execute("select count(*) from meta.load_log").fetchall()
    again = load_landing(con, landing)
    assert {f.status for f in again.files} == {"SKIPPED"}
    assert con.execute("select count(*) from meta.load_log").fetchall() == logged


def test_a_wrong_file_is_refused_without_quoting_its_first_line(tmp_path, con):
    landing = tmp_path / "landing"
    path = place(
        landing, "csv_events", "passwd.csv", b"root:x:0:0:root:/root:/bin/bash\nbin:x:1:1::/:\n"
    )
    load_landing(con, landing)
    error = assert_failed(con, path, "required column(s)", "does not read as column names")
    assert "/bin/bash" not in error and "root" not in error


def break_parser(monkeypatch, bad, error: BaseException):
    """Make the loader's parser raise ``error`` for the file ``bad`` only; returns the real one."""
    real_parse = load_module._parse

    def parse(feed, path, con):
        if path == bad:
            raise error
        return real_parse(feed, path, con)

    monkeypatch.setattr(load_module, "_parse", parse)
    return real_parse


@pytest.mark.parametrize("exc", [RecursionError, RuntimeError, AttributeError, KeyError])
def test_whatever_a_parser_raises_only_its_file_fails(exc, tmp_path, con, monkeypatch):
    landing = tmp_path / "landing"
    for feed in ("dcsa", "returns"):
        place(landing, feed, GOOD[feed][0], good_content(feed))
    bad = place(landing, "dcsa", "a_first.json", b'[{"eventID": "x"}]')
    break_parser(monkeypatch, bad, exc("the parser fell over"))
    load_landing(con, landing)
    assert_failed(con, bad, exc.__name__, "the parser fell over")
    assert_good_loaded(con, landing, ["dcsa", "returns"])


def test_implausible_dates_are_quarantined_with_the_bounds_and_the_rest_loads(tmp_path, con):
    """1900 placeholders and 2200 typos used to pass the contract and stop publication later
    (an FX-rate test in dbt); now the row is quarantined, naming the field and the bounds."""
    landing = tmp_path / "landing"
    head, row = GOOD["returns"][1].splitlines()
    path = place(
        landing,
        "returns",
        "dates.csv",
        "\n".join(
            [
                head,
                row,
                "RMA1900,O9,1,1,DEFECT,1900-01-01T00:00:00Z",
                "RMA2200,O9,2,1,DEFECT,2200-03-01T10:00:00+02:00",
                "RMA1990,O9,3,1,DEFECT,1990-01-01T00:00:00Z",  # the bound itself is plausible
            ]
        ).encode()
        + b"\n",
    )
    load_landing(con, landing)
    assert log_of(con, path)[:4] == ("LOADED_WITH_QUARANTINE", 4, 2, 2)
    entries = quarantine_of(con, path)
    assert [(p, f, r) for p, f, r, _reason, _v in entries] == [
        ("line 3", "returned_at", "range:date"),
        ("line 4", "returned_at", "range:date"),
    ]
    assert all("between 1990-01-01 and 2100-12-31" in reason for *_, reason, _v in entries)
    # The bounds are the operator's to set (WAYBILL_DATE_MIN / WAYBILL_DATE_MAX).
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    load_landing(other, landing, date_range=("1800-01-01", "2100-12-31"))
    assert log_of(other, path)[:4] == ("LOADED_WITH_QUARANTINE", 4, 3, 1)
    other.close()


def test_the_date_bounds_come_from_the_settings(monkeypatch, tmp_path):
    from waybill.settings import load_settings

    monkeypatch.setenv("WAYBILL_DATE_MIN", "2000-01-01")
    monkeypatch.delenv("WAYBILL_DATE_MAX", raising=False)
    assert load_settings(tmp_path).date_range == ("2000-01-01", "2100-12-31")


@pytest.mark.parametrize("exc", [MemoryError, duckdb.OutOfMemoryException])
def test_the_machine_running_short_is_not_the_files_fault(exc, tmp_path, con, monkeypatch):
    """Out of memory (or disk) while loading: the file is DEFERRED, nothing is recorded, the
    other files load, and the next run loads it (a FAILED record would block it for good)."""
    landing = tmp_path / "landing"
    good = place(landing, "returns", GOOD["returns"][0], good_content("returns"))
    big = place(landing, "dcsa", "big.json", GOOD["dcsa"][1].replace("g1", "g2").encode())
    real_parse = break_parser(monkeypatch, big, exc("no memory left"))
    report = load_landing(con, landing)
    [deferred] = [f for f in report.files if f.status == "DEFERRED"]
    assert "the next run tries again" in deferred.error
    assert log_of(con, good)[0] == "LOADED"
    assert not con.execute(
        "select count(*) from meta.load_log where source_file like '%big.json'"
    ).fetchall()[0][0]
    monkeypatch.setattr(load_module, "_parse", real_parse)
    load_landing(con, landing)
    assert log_of(con, big)[:3] == ("LOADED", 1, 1)


def test_a_file_changing_while_read_is_never_mistaken_for_a_copy(tmp_path, con, monkeypatch):
    """a.csv and b.csv hold the same bytes; a.csv is still being written when it is read. b.csv
    loads; a.csv is loaded by nobody twice and reported as b's copy next time."""
    landing = tmp_path / "landing"
    a = place(landing, "returns", "a.csv", good_content("returns"))
    b = place(landing, "returns", "b.csv", good_content("returns"))
    real = load_module._stat_key
    calls = {"a": 0}

    def stat_key(path):
        size, mtime = real(path)
        if path == a:
            calls["a"] += 1
            return size, mtime + calls["a"]  # a new mtime at every look: still being written
        return size, mtime

    monkeypatch.setattr(load_module, "_stat_key", stat_key)
    first = {f.source_file.rsplit("/", 1)[-1]: f.status for f in load_landing(con, landing).files}
    assert first == {"a.csv": "CHANGING", "b.csv": "LOADED"}
    monkeypatch.setattr(load_module, "_stat_key", real)
    load_landing(con, landing)
    assert log_of(con, b)[:3] == ("LOADED", 1, 1)
    status, read, *_ = log_of(con, a)
    assert (status, read) == ("SKIPPED", 0)
    assert con.execute("select count(*) from raw.returns").fetchall() == [(1,)]


def test_a_file_the_loader_may_not_read_is_named_once(tmp_path, con, monkeypatch):
    landing = tmp_path / "landing"
    good = place(landing, "returns", GOOD["returns"][0], good_content("returns"))
    locked = place(
        landing,
        "returns",
        "locked.csv",
        good_content("returns") + b"RMA8,O8,1,1,DEFECT,2026-10-09T10:00:00Z\n",
    )
    real = load_module.sha256_of

    def sha256_of(path):
        if path == locked:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(load_module, "sha256_of", sha256_of)
    load_landing(con, landing)
    assert_failed(con, locked, "cannot be read", "Permission denied")
    assert log_of(con, good)[0] == "LOADED"
    logged = con.execute("select count(*) from meta.load_log").fetchall()
    load_landing(con, landing)
    assert con.execute("select count(*) from meta.load_log").fetchall() == logged


def test_a_warehouse_from_before_relative_paths_and_mtimes_is_read_as_it_was(tmp_path, con):
    """Rows recorded with the absolute path and no mtime: the file is not taken for a new copy,
    and its mtime is stamped so later runs do not read it again."""
    landing = tmp_path / "landing"
    path = place(landing, "returns", GOOD["returns"][0], good_content("returns"))
    load_landing(con, landing)
    con.execute(
        "update meta.load_log set source_file = ?, file_mtime_ns = null", [str(path.resolve())]
    )
    report = load_landing(con, landing)
    assert [f.status for f in report.files] == ["SKIPPED"]
    assert con.execute("select count(*), count(file_mtime_ns) from meta.load_log").fetchall() == [
        (1, 1)
    ]


@pytest.mark.parametrize(
    ("field", "feed", "value", "bad"),
    [
        ("event_time", "csv_events", "2026-10-01T10:00:00Z", "1900-01-01T00:00:00"),  # timestamp
        ("invoice_date", "carrier_invoices_csv", "2026-10-01", "2200-01-01"),  # date
    ],
)
def test_every_date_type_has_the_range(field, feed, value, bad, tmp_path, con):
    landing = tmp_path / "landing"
    text = GOOD[feed][1]
    path = place(landing, feed, "x.csv", (text + text.splitlines()[1].replace(value, bad)).encode())
    load_landing(con, landing)
    [(position, fld, rule, _reason, _value)] = quarantine_of(con, path)
    assert (position, fld, rule) == ("line 3", field, "range:date")


def test_the_calendar_date_as_written_decides_not_the_offset(tmp_path, con):
    """1990-01-01T00:30+02:00 is 1989-12-31 in UTC but dated 1990-01-01 by its sender."""
    landing = tmp_path / "landing"
    head, row = GOOD["returns"][1].splitlines()
    path = place(
        landing,
        "returns",
        "edge.csv",
        f"{head}\n{row.replace('2026-10-09T10:00:00Z', '1990-01-01T00:30:00+02:00')}\n".encode(),
    )
    load_landing(con, landing)
    assert log_of(con, path)[:3] == ("LOADED", 1, 1)


def test_x12_date8_has_the_range():
    import polars as pl

    from ingestion.load import validate

    rows = pl.DataFrame(
        {"event_date": ["20261001", "19000101"], "_row_number": [1, 2], "_position": ["a", "b"]}
    )
    errors = validate("x12_214", rows)["_errors"].to_list()
    assert [e["rule"] for e in errors[1] if e["field"] == "event_date"] == ["range:date"]
    assert not [e for e in errors[0] if e["field"] == "event_date"]
