"""The publish gate end to end: a planted severe failure stops publication, the last snapshot
stays intact and readable, and the failure is visible (exit code, summary, meta.dq_results,
serving/dq_results.parquet)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import waybill

pytestmark = pytest.mark.slow

ORDERS = 300
SEED = 11


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def test_a_severe_failure_blocks_publication_and_the_last_snapshot_stays(tmp_path):
    data_dir = tmp_path / "data"
    gen = waybill(
        "generate", "--orders", str(ORDERS), "--seed", str(SEED), "--quiet", data_dir=data_dir
    )
    assert gen.returncode == 0, gen.stderr

    first = waybill("run", "--quiet", data_dir=data_dir)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert "data-quality checks:" in first.stdout and "0 blocking failure(s)" in first.stdout
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

    carriers = plant_unmapped_csv_events(data_dir / "landing")
    assert carriers == ["EXDO", "SNDR"]
    second = waybill("run", "--quiet", data_dir=data_dir)
    out = second.stdout
    assert second.returncode != 0, out[-4000:]
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
