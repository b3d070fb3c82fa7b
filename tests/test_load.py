"""The loader on small hand-written files: every row loaded or quarantined, with a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ingestion.contracts import FEEDS
from ingestion.db import frame
from ingestion.load import load_landing, validate

RETURNS_HEADER = "rma_number,order_id,line_number,quantity,reason,returned_at"


def write(landing: Path, feed: str, name: str, content: str | bytes) -> Path:
    folder = landing / FEEDS[feed].folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def quarantine(con) -> list[dict]:
    return frame(
        con,
        "select row_number, position, field, value, rule, reason from meta.quarantine order by row_number",
    ).to_dicts()


def test_good_and_bad_rows_of_a_csv_are_split_with_the_broken_rule_named(landing, con):
    write(
        landing,
        "returns",
        "r.csv",
        "\n".join(
            [
                RETURNS_HEADER,
                "RMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00+02:00",
                "RMA2,O1,2,-1,DAMAGED,2026-10-01T10:00:00+02:00",  # negative quantity
                "RMA3,O2,1,1,BROKEN,2026-10-01T10:00:00Z",  # reason outside the value set
                "RMA4,O3,1,1",  # too few fields
                "RMA5,O3,1,1,NOT_WANTED,2026/10/02",  # not ISO 8601
                "RMA6,O4,1,3,DEFECT,2026-10-03 08:00:00-05:00",
            ]
        )
        + "\n",
    )
    report = load_landing(con, landing)
    [f] = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (6, 2, 4)
    assert con.execute("select rma_number, _row_number from raw.returns order by 2").fetchall() == [
        ("RMA1", 2),
        ("RMA6", 7),
    ]
    q = quarantine(con)
    assert [(r["row_number"], r["field"], r["rule"]) for r in q] == [
        (3, "quantity", "min:1"),
        (4, "reason", "allowed_values"),
        (5, None, "structure"),
        (6, "returned_at", "type:timestamp_tz"),
    ]
    assert "got '-1'" in q[0]["reason"] and "at least 1" in q[0]["reason"]
    assert "ISO 8601 with a UTC offset" in q[3]["reason"]
    assert q[2]["position"] == "line 5"
    log = con.execute(
        "select status, rows_read, rows_loaded, rows_quarantined from meta.load_log"
    ).fetchall()
    assert log == [("LOADED_WITH_QUARANTINE", 6, 2, 4)]


def test_loading_the_same_files_twice_changes_nothing(landing, con):
    write(
        landing, "returns", "r.csv", RETURNS_HEADER + "\nRMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n"
    )
    load_landing(con, landing)
    before = con.execute("select count(*) from raw.returns").fetchall()
    report = load_landing(con, landing)
    assert [f.status for f in report.files] == ["SKIPPED"]
    assert con.execute("select count(*) from raw.returns").fetchall() == before
    assert con.execute("select count(*) from meta.load_log").fetchall() == [(1,)]


def test_a_byte_identical_copy_under_another_name_is_skipped(landing, con):
    path = write(
        landing, "returns", "a.csv", RETURNS_HEADER + "\nRMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n"
    )
    shutil.copy(path, path.with_name("b.csv"))
    report = load_landing(con, landing)
    assert [f.status for f in report.files] == ["LOADED", "SKIPPED"]
    assert con.execute("select count(*) from raw.returns").fetchall() == [(1,)]
    # The copy has a lasting record naming the file it repeats, written once, not every run.
    skipped = "select source_file, rows_read, notes from meta.load_log where status = 'SKIPPED'"
    [(source, read, notes)] = con.execute(skipped).fetchall()
    assert (Path(source).name, read) == ("b.csv", 0) and "same bytes as a.csv" in notes
    load_landing(con, landing)
    assert len(con.execute(skipped).fetchall()) == 1


def test_a_corrected_resend_is_loaded_as_a_later_version_of_the_same_key(landing, con):
    write(
        landing, "returns", "a.csv", RETURNS_HEADER + "\nRMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n"
    )
    load_landing(con, landing)
    write(
        landing, "returns", "b.csv", RETURNS_HEADER + "\nRMA1,O1,1,1,DEFECT,2026-10-01T10:00:00Z\n"
    )
    load_landing(con, landing)
    rows = con.execute(
        "select quantity, reason, _load_id from raw.returns order by _load_id"
    ).fetchall()
    assert [(q, r) for q, r, _ in rows] == [("2", "DAMAGED"), ("1", "DEFECT")]
    assert rows[1][2] > rows[0][2]  # staging keeps the highest _load_id


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"rma_number;order_id\nRMA1;O1\n", "required column(s)"),
        (bytes(range(256)) * 40, "not a text file"),
    ],
    ids=["empty file", "header lacks required columns", "binary garbage"],
)
def test_an_unreadable_csv_is_reported_and_the_next_file_still_loads(
    landing, con, content, expected
):
    write(landing, "returns", "a_bad.csv", content)
    write(
        landing,
        "returns",
        "b_good.csv",
        RETURNS_HEADER + "\nRMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n",
    )
    report = load_landing(con, landing)
    assert [f.status for f in report.files] == ["FAILED", "LOADED"]
    assert expected in report.files[0].error
    [q] = quarantine(con)
    assert q["position"] in ("file", "line 1 (header)", "byte 0") and q["rule"] == "file"
    assert "a_bad.csv" in con.execute("select source_file from meta.quarantine").fetchall()[0][0]


def test_a_latin1_csv_is_read_and_a_utf8_bom_is_ignored(landing, con):
    write(
        landing,
        "carriers",
        "latin1.csv",
        "carrier_code,carrier_name\nGEO,Géodis\n".encode("latin-1"),
    )
    write(
        landing,
        "carriers",
        "bom.csv",
        "\ufeffcarrier_code,carrier_name\nDBS,Schenker\n".encode("utf-8"),
    )
    report = load_landing(con, landing)
    assert {f.status for f in report.files} == {"LOADED"}
    assert sorted(
        con.execute("select carrier_code, carrier_name from raw.carriers").fetchall()
    ) == [("DBS", "Schenker"), ("GEO", "Géodis")]


def test_ecb_rates_load_one_row_per_published_cell_and_skip_na(landing, con):
    write(
        landing,
        "fx_rates",
        "eurofxref-hist.csv",
        "Date,USD,JPY,CYP,\n"
        "2026-10-30,1.1612,176.10,N/A,\n"
        "2026-10-29,1.16x,N/A,N/A,\n"
        "2026-10-28,1.1590,175.90,N/A,\n",
    )
    [f] = load_landing(con, landing).files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (5, 4, 1)
    rates = con.execute(
        "select rate_date, currency, rate_per_eur from raw.fx_rates order by 1, 2"
    ).fetchall()
    assert rates == [
        ("2026-10-28", "JPY", "175.90"),
        ("2026-10-28", "USD", "1.1590"),
        ("2026-10-30", "JPY", "176.10"),
        ("2026-10-30", "USD", "1.1612"),
    ]
    [q] = quarantine(con)
    assert q["position"] == "line 3, column USD" and q["value"] == "1.16x"


ORDER = {
    "order_id": "SO-1",
    "customer_id": "C1",
    "channel": "ECOM",
    "created_at": "2026-10-01T09:00:00+02:00",
    "promised_delivery_end": "2026-10-05T18:00:00+02:00",
    "incoterm": "DAP",
    "origin_country": "DE",
    "destination_country": "FR",
    "currency": "EUR",
}
LINE = {"line_number": 1, "sku": "SKU-1", "quantity": 3, "unit_price": 9.5, "weight_kg": 1.2}


def test_orders_load_the_same_from_json_parquet_and_xlsx(landing, con):
    write(
        landing,
        "orders",
        "api.json",
        json.dumps(
            [
                ORDER | {"lines": [LINE, LINE | {"line_number": 2, "quantity": 0}]},
                {"order_id": "SO-EMPTY", "lines": []},
            ]
        ),
    )
    flat = pl.DataFrame([ORDER | LINE | {"order_id": "SO-2"}])
    flat.write_parquet(landing / "orders" / "upload.parquet")
    flat.with_columns(order_id=pl.lit("SO-3")).write_excel(landing / "orders" / "upload.xlsx")
    report = load_landing(con, landing)
    by_file = {
        Path(f.source_file).name: (f.rows_read, f.rows_loaded, f.rows_quarantined)
        for f in report.files
    }
    assert by_file == {"api.json": (3, 1, 2), "upload.parquet": (1, 1, 0), "upload.xlsx": (1, 1, 0)}
    assert sorted(
        con.execute("select order_id, quantity, unit_price, unit_cost from raw.orders").fetchall()
    ) == [("SO-1", "3", "9.5", None), ("SO-2", "3", "9.5", None), ("SO-3", "3", "9.5", None)]
    # unit_cost is optional: files without the column load, with it null (goods then at price)
    q = quarantine(con)
    assert {r["position"] for r in q} == {"$[0].lines[1]", "$[1]"}


def test_orders_json_that_is_not_json_names_line_and_column(landing, con):
    write(landing, "orders", "broken.json", '[{"order_id": "SO-1",\n  "lines": [}')
    [f] = load_landing(con, landing).files
    assert f.status == "FAILED" and "line 2, column" in f.error and "not valid JSON" in f.error


def test_the_validator_flags_thousands_separators_and_unknown_currencies():
    rows = pl.DataFrame(
        {
            "invoice_number": ["I1", "I2"],
            "carrier_code": ["X", "X"],
            "invoice_date": ["2026-01-01"] * 2,
            "currency": ["USD", "XXY"],
            "line_number": ["1", "1"],
            "charge_code": ["FRT", "FRT"],
            "amount": ["1,234.50", "10.00"],
            "_row_number": [2, 3],
            "_position": ["line 2", "line 3"],
        }
    )
    checked = validate("carrier_invoices_csv", rows)
    errors = {r["_row_number"]: [e["rule"] for e in r["_errors"]] for r in checked.to_dicts()}
    assert errors == {2: ["type:decimal"], 3: ["reference:currency"]}


def test_a_parser_that_loses_count_fails_its_file_and_the_next_file_still_loads(
    landing, con, monkeypatch
):
    from ingestion import load as loader
    from ingestion.parsers import csv_file

    real = csv_file.read_csv
    calls = []

    def miscounting(path, *args, **kwargs):
        parsed = real(path, *args, **kwargs)
        calls.append(path.name)
        if path.name == "a.csv":
            parsed.rows_read += 1  # as if a row vanished inside the parser
        return parsed

    monkeypatch.setattr(loader.csv_file, "read_csv", miscounting)
    write(
        landing, "returns", "a.csv", RETURNS_HEADER + "\nRMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n"
    )
    write(
        landing, "returns", "b.csv", RETURNS_HEADER + "\nRMA2,O2,1,1,DEFECT,2026-10-01T10:00:00Z\n"
    )
    report = load_landing(con, landing)
    assert [f.status for f in report.files] == ["FAILED", "LOADED"]
    assert "lost track of rows" in report.files[0].error
    # nothing of the failed file reached raw: its transaction was rolled back
    assert con.execute("select rma_number from raw.returns").fetchall() == [("RMA2",)]


def test_positions_are_physical_lines_after_a_multiline_value_and_a_blank_line(landing, con):
    write(
        landing,
        "carriers",
        "c.csv",
        (
            "carrier_code,carrier_name\n"  # line 1
            "A1,Alpha\n"  # line 2
            "\n"  # line 3 (blank: not a row)
            'B2,"Beta\n'  # line 4: a quoted name spanning lines 4-5
            'Freight"\n'
            "C3\n"  # line 6: one field too few
            ",Nameless\n"  # line 7: required carrier_code empty
            "D4,Delta\n"  # line 8
        ),
    )
    [f] = load_landing(con, landing).files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (5, 3, 2)
    assert con.execute(
        "select carrier_code, _row_number from raw.carriers order by 2"
    ).fetchall() == [("A1", 2), ("B2", 4), ("D4", 8)]
    assert [(r["position"], r["rule"]) for r in quarantine(con)] == [
        ("line 6", "structure"),
        ("line 7", "required"),
    ]


def test_an_unchanged_file_is_not_read_again_and_a_rewritten_one_is(landing, con, monkeypatch):
    import os

    import ingestion.load as load_module

    path = write(
        landing, "returns", "a.csv", RETURNS_HEADER + "\nRMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n"
    )
    load_landing(con, landing)
    real = load_module.sha256_of
    read = []
    monkeypatch.setattr(load_module, "sha256_of", lambda p: read.append(p.name) or real(p))
    assert [f.status for f in load_landing(con, landing).files] == ["SKIPPED"]
    assert read == []  # path, size and mtime on record: the recorded hash is used
    path.write_text(RETURNS_HEADER + "\nRMA1,O1,1,3,DAMAGED,2026-10-01T10:00:00Z\n")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new write, a new mtime
    assert [f.status for f in load_landing(con, landing).files] == ["LOADED"]
    assert read == ["a.csv"]
