"""waybill quarantine: rows grouped by reason, exported for the sender, resolved by a fix."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from ingestion.contracts import FEEDS
from ingestion.load import load_landing
from waybill.cli import main
from waybill.quarantine import export, grouped, quarantined_rows
from waybill.settings import load_settings

HEADER = "rma_number,order_id,line_number,quantity,reason,returned_at"
GOOD = "RMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z"
NEGATIVE = "RMA2,O1,2,-1,DAMAGED,2026-10-01T10:00:00Z"
BAD_REASON = "RMA3,O2,1,1,BROKEN,2026-10-01T10:00:00Z"
BAD_REASON_2 = "RMA4,O3,1,1,SMASHED,2026-10-01T10:00:00Z"
RAGGED = "RMA5,O4,1"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    load_settings().ensure_dirs()
    return tmp_path


def deliver(data_dir: Path, name: str, *lines: str) -> None:
    folder = data_dir / "landing" / FEEDS["returns"].folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([HEADER, *lines]) + "\n")


def load(data_dir: Path) -> None:
    settings = load_settings()
    con = duckdb.connect(str(settings.warehouse))
    try:
        load_landing(con, settings.landing)
    finally:
        con.close()


def read(data_dir: Path):
    return duckdb.connect(str(load_settings().warehouse), read_only=True)


def test_rows_are_grouped_by_reason_with_counts_and_examples(data_dir):
    deliver(data_dir, "a.csv", GOOD, NEGATIVE, BAD_REASON, BAD_REASON_2, RAGGED)
    load(data_dir)
    with read(data_dir) as con:
        groups = grouped(con)
    by_rule = {(g["rule"], g["field"]): g for g in groups.iter_rows(named=True)}
    assert {k: g["rows"] for k, g in by_rule.items()} == {
        ("allowed_values", "reason"): 2,
        ("min:1", "quantity"): 1,
        ("structure", None): 1,
    }
    examples = by_rule[("allowed_values", "reason")]["examples"]
    assert [(e["file"], e["position"], e["value"]) for e in examples] == [
        ("a.csv", "line 4", "BROKEN"),
        ("a.csv", "line 5", "SMASHED"),
    ]
    assert "reason must be one of" in examples[0]["reason"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_export_writes_every_open_row_for_the_sender(data_dir, tmp_path, suffix):
    deliver(data_dir, "a.csv", GOOD, NEGATIVE, BAD_REASON, RAGGED)
    load(data_dir)
    target = tmp_path / "out" / f"returns_to_fix{suffix}"
    assert main(["quarantine", "--feed", "returns", "--export", str(target)]) == 0
    reader = {".csv": pl.read_csv, ".xlsx": pl.read_excel, ".parquet": pl.read_parquet}[suffix]
    back = reader(target)
    assert back.height == 3
    assert sorted(back["position"].to_list()) == ["line 3", "line 4", "line 5"]
    assert {"source_file", "position", "field", "value", "rule", "reason", "record"} <= set(
        back.columns
    )
    with pytest.raises(ValueError, match="unsupported"):
        export(back, tmp_path / "x.json")


def test_fixed_rows_redelivered_under_another_name_leave_the_quarantine(data_dir):
    deliver(data_dir, "a.csv", GOOD, NEGATIVE, BAD_REASON, RAGGED)
    load(data_dir)
    # The sender fixes RMA2 (quantity) and RMA3 (reason) and sends them in a new file.
    deliver(
        data_dir,
        "a_fixed.csv",
        NEGATIVE.replace(",-1,", ",1,"),
        BAD_REASON.replace("BROKEN", "DEFECT"),
    )
    load(data_dir)
    with read(data_dir) as con:
        open_rows = quarantined_rows(con)
        every_row = quarantined_rows(con, include_resolved=True)
        raw = con.execute("select rma_number from raw.returns order by 1").fetchall()
    assert raw == [("RMA1",), ("RMA2",), ("RMA3",)]
    assert open_rows["position"].to_list() == ["line 5"]  # the ragged line had no key
    resolved = every_row.filter(pl.col("resolved_at").is_not_null())
    assert sorted(resolved["position"].to_list()) == ["line 3", "line 4"]
    assert set(resolved["resolved_how"].to_list()) == {"business_key"}


def test_a_failed_file_and_a_keyless_row_are_resolved_by_resending_the_same_file_name(data_dir):
    folder = data_dir / "landing" / FEEDS["returns"].folder
    folder.mkdir(parents=True)
    (folder / "broken.csv").write_text("rma_number;order_id\nRMA9;O9\n")  # header lacks columns
    deliver(data_dir, "ragged.csv", GOOD, RAGGED)
    load(data_dir)
    with read(data_dir) as con:
        assert sorted(quarantined_rows(con)["file_name"].to_list()) == ["broken.csv", "ragged.csv"]
    deliver(data_dir, "broken.csv", "RMA9,O9,1,1,DEFECT,2026-10-01T10:00:00Z")
    deliver(data_dir, "ragged.csv", GOOD, "RMA5,O4,1,1,DEFECT,2026-10-01T10:00:00Z")
    load(data_dir)
    with read(data_dir) as con:
        assert quarantined_rows(con).height == 0
        how = quarantined_rows(con, include_resolved=True)["resolved_how"].to_list()
    assert how == ["resent_file", "resent_file"]


def test_a_resend_that_is_still_wrong_stays_in_quarantine(data_dir):
    deliver(data_dir, "a.csv", GOOD, BAD_REASON)
    load(data_dir)
    deliver(data_dir, "a.csv", GOOD, BAD_REASON.replace("BROKEN", "SHATTERED"))
    load(data_dir)
    with read(data_dir) as con:
        rows = quarantined_rows(con)
    # Both versions are open: the old one (not fixed) and the new one.
    assert rows["value"].to_list() == ["BROKEN", "SHATTERED"]


def test_the_command_lists_groups_and_filters_by_feed_and_date(data_dir, capsys):
    deliver(data_dir, "a.csv", GOOD, NEGATIVE, BAD_REASON)
    load(data_dir)
    assert main(["quarantine"]) == 0
    out = capsys.readouterr().out
    assert "allowed_values" in out and "a.csv line 4 [BROKEN]" in out
    assert "2 quarantined row(s)" in out
    assert main(["quarantine", "--feed", "orders"]) == 0
    assert "no quarantined rows" in capsys.readouterr().out
    assert main(["quarantine", "--since", "2999-01-01"]) == 0
    assert "no quarantined rows" in capsys.readouterr().out
    assert main(["quarantine", "--feed", "nope"]) == 2
