"""The publish gate end to end: a planted severe failure stops publication, the last snapshot
stays intact and readable, the exports that depend on it are not written again, and the
failure is visible (exit code, summary, meta.dq_results, serving/dq_results.parquet)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import waybill
from tests.test_notify import Receiver
from waybill.exports import FORMATS, REPORTS, scheduled_export
from waybill.exports import published as published_on

pytestmark = pytest.mark.slow


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_state(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Per file: content hash, inode and modification time (a re-write through a temporary
    name changes the inode even when the content comes out the same)."""
    return {
        p.name: (sha(p), p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def plant_unmapped_csv_events(landing: Path) -> list[str]:
    """Re-send every generic-CSV carrier event with a status code no mapping knows. The CSV
    feed keys events by (carrier_code, event_id), so the re-sends replace the originals: the
    carriers of that feed (SNDR, EXDO) end up with (almost) every event UNKNOWN."""
    folder = landing / "carrier_events" / "csv"
    carriers = set()
    for path in sorted(folder.glob("*.csv")):
        df = pl.read_csv(path, infer_schema=False)
        if "shipment_id" not in df.columns:  # the planted unreadable file
            continue
        df = df.with_columns(event_code=pl.lit("NOT_A_CODE"))
        carriers |= set(df["carrier_code"].drop_nulls().to_list())
        df.write_csv(folder / f"zz_{path.stem}_recoded.csv")
    return sorted(carriers)


def test_a_severe_failure_blocks_publication_and_the_last_snapshot_stays(
    pipeline_run, tmp_path, monkeypatch
):
    # The first, good run is the session's pipeline run (1,500 orders, conftest.py): its data
    # folder is copied (a fresh Dagster instance) and never changed, so one more run suffices.
    data_dir = tmp_path / "data"
    for part in ("landing", "warehouse", "serving", "exports"):
        shutil.copytree(pipeline_run["data_dir"] / part, data_dir / part)
    first = pipeline_run["stdout"]
    assert "data-quality checks:" in first and "0 blocking failure(s)" in first
    snapshot = data_dir / "serving" / "waybill.duckdb"
    before = sha(snapshot)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        [(first_run,)] = con.execute("select run_id from meta.snapshot_info").fetchall()
        shipments_before = con.execute("select count(*) from marts.fct_shipments").fetchall()
        # Check results are published with the snapshot, for the dashboard's history.
        published = con.execute(
            "select count(*), count(distinct asset) from meta.dq_results where run_id = ?",
            [first_run],
        ).fetchall()[0]
    assert published[0] > 30 and published[1] >= 17
    # The run's exports are written from that snapshot, dated by its publication.
    exports = data_dir / "exports"
    exports_before = files_state(exports)
    first_date = published_on(snapshot)[0].isoformat()
    assert {f"{r}_{first_date}.{f}" for r in REPORTS for f in FORMATS} <= set(exports_before)

    carriers = plant_unmapped_csv_events(data_dir / "landing")
    assert carriers == ["EXDO", "SNDR"]
    receiver = Receiver()  # the operator's webhook (WAYBILL_ALERT_WEBHOOK)
    monkeypatch.setenv("WAYBILL_ALERT_WEBHOOK", receiver.url)
    try:
        second = waybill("run", "--quiet", data_dir=data_dir)
    finally:
        receiver.close()
    out = second.stdout
    assert second.returncode != 0, out[-4000:]
    [alert] = receiver.received
    assert alert["event"] == "publication_blocked"
    assert "the last good snapshot stays published" in alert["summary"]
    assert "BLOCKING marts/fct_shipment_events milestone_mapping_coverage" in out
    assert "publication STOPPED" in out

    # The snapshot is byte for byte the one of the first run, and readable.
    assert sha(snapshot) == before
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("select run_id from meta.snapshot_info").fetchall() == [(first_run,)]
        assert con.execute("select count(*) from marts.fct_shipments").fetchall() == (
            shipments_before
        )
    assert not list(snapshot.parent.glob(".*.tmp"))
    # The exports depend on the snapshot: the blocked run skipped them, nothing was re-written.
    assert files_state(exports) == exports_before

    # The failure is recorded in the warehouse with the carriers that failed ...
    with duckdb.connect(str(data_dir / "warehouse" / "waybill.duckdb"), read_only=True) as con:
        rows = con.execute(
            """select run_id, failing_sample from meta.dq_results
            where check_name = 'milestone_mapping_coverage' and blocking"""
        ).fetchall()
    assert len(rows) == 1 and rows[0][0] != first_run
    assert {s["carrier_code"] for s in json.loads(rows[0][1])} == set(carriers)
    # ... and beside the snapshot, for readers of the serving folder.
    side = pl.read_parquet(data_dir / "serving" / "dq_results.parquet")
    assert side.filter(pl.col("blocking") & (pl.col("run_id") == rows[0][0])).height == 1

    # The daily export job after a blocked night writes the last good snapshot's figures under
    # that snapshot's date, not today's: simulate a snapshot published yesterday.
    old = tmp_path / "yesterday.duckdb"
    shutil.copy(snapshot, old)
    with duckdb.connect(str(old)) as con:
        con.execute("update meta.snapshot_info set published_at = published_at - interval 1 day")
        [(day,)] = con.execute(
            "select cast(published_at as date) from meta.snapshot_info"
        ).fetchall()
    done = scheduled_export(old, tmp_path / "exports", "margin")
    assert done["snapshot_date"] == day and done["snapshot_run_id"] == first_run
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == sorted(
        f"margin_{day.isoformat()}.{f}" for f in FORMATS
    )
