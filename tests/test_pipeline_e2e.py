"""`waybill generate` + `waybill run` end to end, checked against the generator's ground truth.

The generator and the loader were written independently; the manifest says what was planted
(files, rows, malformed rows and files, re-sent copies), and the warehouse must agree exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.contracts import FEEDS
from tests.conftest import waybill

pytestmark = pytest.mark.slow


def connect(pipeline_run) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(pipeline_run["settings"].warehouse), read_only=True)


def landing_name(pipeline_run, source_file: str) -> str:
    """A lineage name (relative to the data directory) as the manifest names the file."""
    assert not Path(source_file).is_absolute(), "lineage never holds a server path"
    return str(Path(source_file).relative_to("landing"))


def test_every_feed_loads_and_quarantines_exactly_what_the_manifest_planted(pipeline_run):
    feeds = pipeline_run["manifest"]["feeds"]
    assert set(feeds) == set(FEEDS)
    con = connect(pipeline_run)
    got = {
        feed: (loaded, quarantined)
        for feed, loaded, quarantined in con.execute(
            "select feed, sum(rows_loaded), sum(rows_quarantined) from meta.load_log group by feed"
        ).fetchall()
    }
    expected = {
        name: (f["expected_rows_loaded"], f["expected_rows_quarantined"])
        for name, f in feeds.items()
    }
    assert got == expected
    for name, feed in FEEDS.items():
        in_raw = con.execute(f"select count(*) from raw.{feed.table}").fetchall()[0][0]
        assert in_raw == feeds[name]["expected_rows_loaded"], name


def test_each_file_reconciles_and_the_planted_bad_rows_are_quarantined_where_they_are(pipeline_run):
    con = connect(pipeline_run)
    log = {
        landing_name(pipeline_run, src): (status, read, loaded, quarantined)
        for src, status, read, loaded, quarantined in con.execute(
            "select source_file, status, rows_read, rows_loaded, rows_quarantined from meta.load_log"
        ).fetchall()
    }
    quarantined = {
        (landing_name(pipeline_run, src), row)
        for src, row in con.execute(
            "select source_file, row_number from meta.quarantine where row_number > 0"
        ).fetchall()
    }
    for name, feed in pipeline_run["manifest"]["feeds"].items():
        for f in feed["files"]:
            status, read, loaded, bad = log[f["name"]]
            assert read == f["rows"] == loaded + bad, (name, f["name"])
            assert bad == len(f["malformed_rows"]), (name, f["name"])
            for row in f["malformed_rows"]:
                assert (f["name"], row["row_number"]) in quarantined, (f["name"], row)


def test_malformed_files_are_reported_with_a_reason_and_resent_copies_skipped(pipeline_run):
    con = connect(pipeline_run)
    failed = {
        landing_name(pipeline_run, src): error
        for src, error in con.execute(
            "select source_file, error from meta.load_log where status = 'FAILED'"
        ).fetchall()
    }
    planted = {
        m["name"]: m
        for feed in pipeline_run["manifest"]["feeds"].values()
        for m in feed["malformed_files"]
    }
    assert set(failed) == set(planted)
    assert all(error and len(error) > 20 for error in failed.values())
    file_level = con.execute("select count(*) from meta.quarantine where rule = 'file'").fetchall()[
        0
    ][0]
    assert file_level == len(planted)
    copies = [
        d for feed in pipeline_run["manifest"]["feeds"].values() for d in feed["duplicate_files"]
    ]
    assert copies, "the generator plants at least one byte-identical re-sent file"
    logged = {
        landing_name(pipeline_run, s): (status, read, notes)
        for s, status, read, notes in con.execute(
            "select source_file, status, rows_read, notes from meta.load_log"
        ).fetchall()
    }
    for copy in copies:
        # Nothing of a copy is loaded again; one SKIPPED line says which file it repeats.
        status, read, notes = logged[copy["name"]]
        assert (status, read) == ("SKIPPED", 0)
        assert f"same bytes as {Path(copy['copy_of']).name}" in notes


def test_staging_holds_one_row_per_business_record_of_the_true_world(pipeline_run):
    truth = pipeline_run["manifest"]["orders"]
    con = connect(pipeline_run)

    def one(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    assert one("select count(*) from staging.stg_oms__order_lines") == truth["order_lines"]
    assert (
        one("select count(distinct order_id) from staging.stg_oms__order_lines") == truth["orders"]
    )
    assert (
        one("select sum(quantity_ordered) from staging.stg_oms__order_lines")
        == truth["units_ordered"]
    )
    assert one("select count(*) from staging.stg_oms__shipment_lines") == truth["shipment_lines"]
    assert (
        one("select count(distinct shipment_id) from staging.stg_oms__shipment_lines")
        == truth["shipments"]
    )
    assert (
        one("select sum(quantity_shipped) from staging.stg_oms__shipment_lines")
        == truth["units_shipped"]
    )


EVENT_STAGING = {
    "x12_214": "stg_x12__shipment_status_events",
    "dcsa": "stg_dcsa__events",
    "csv_events": "stg_carrier_csv__shipment_status_events",
}


def test_staging_collapses_resent_corrected_and_retracted_events_to_one_row_each(pipeline_run):
    """Re-sent copies, corrections (same id, later version) and DCSA retractions (same eventID)
    each leave one row in staging: loaded rows minus the copies the generator planted."""
    con = connect(pipeline_run)
    feeds = pipeline_run["manifest"]["feeds"]
    for feed, model in EVENT_STAGING.items():
        planted = feeds[feed]["planted"]["events"]
        expected = feeds[feed]["expected_rows_loaded"] - sum(
            planted.get(k, 0) for k in ("resent", "correction", "retraction")
        )
        got = con.execute(f"select count(*) from staging.{model}").fetchall()[0][0]
        assert got == expected, feed
    # the corrected CSV events carry the corrected (later) version
    assert (
        con.execute(
            "select count(*) from staging.stg_carrier_csv__shipment_status_events "
            "where _versions_received > 1"
        ).fetchall()[0][0]
        >= feeds["csv_events"]["planted"]["events"]["correction"]
    )


def test_the_snapshot_is_published_with_staging_and_the_load_log(pipeline_run):
    snap = duckdb.connect(str(pipeline_run["settings"].snapshot), read_only=True)
    tables = {
        f"{s}.{t}"
        for s, t in snap.execute("select schema_name, table_name from duckdb_tables()").fetchall()
    }
    assert {
        "meta.load_log",
        "meta.quarantine",
        "meta.snapshot_info",
        "staging.stg_oms__order_lines",
        "reference.ref_locations",
    } <= tables
    assert (
        snap.execute("select count(*) from staging.stg_oms__order_lines").fetchall()[0][0]
        == (pipeline_run["manifest"]["orders"]["order_lines"])
    )


def warehouse_counts(settings) -> dict:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        counts = {
            f"raw.{f.table}": con.execute(f"select count(*) from raw.{f.table}").fetchall()[0][0]
            for f in FEEDS.values()
        }
        for t in ("meta.load_log", "meta.quarantine"):
            counts[t] = con.execute(f"select count(*) from {t}").fetchall()[0][0]
        for (model,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'staging'"
        ).fetchall():
            counts[f"staging.{model}"] = con.execute(
                f"select count(*) from staging.{model}"
            ).fetchall()[0][0]
        return counts
    finally:
        con.close()


def published_runs(settings) -> list[str]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return [r for (r,) in con.execute("select run_id from meta.build_state").fetchall()]
    finally:
        con.close()


def test_a_second_run_with_nothing_new_changes_nothing_and_skips_the_build(pipeline_run):
    settings = pipeline_run["settings"]
    before = warehouse_counts(settings)
    snapshot_before = settings.snapshot.stat()
    published_before = published_runs(settings)
    assert len(published_before) == 1
    run = waybill("run", "--quiet", data_dir=pipeline_run["data_dir"])
    assert run.returncode == 0, run.stderr[-5000:]
    assert warehouse_counts(settings) == before
    assert "nothing new since the last published snapshot" in run.stdout
    # Not rebuilt, not republished: the same snapshot file, no new publication on record.
    after = settings.snapshot.stat()
    assert (after.st_ino, after.st_mtime_ns) == (
        snapshot_before.st_ino,
        snapshot_before.st_mtime_ns,
    )
    assert published_runs(settings) == published_before
    # --full-refresh rebuilds and republishes the same content.
    full = waybill("run", "--quiet", "--full-refresh", data_dir=pipeline_run["data_dir"])
    assert full.returncode == 0, full.stderr[-5000:]
    assert "nothing new" not in full.stdout
    assert warehouse_counts(settings) == before
    assert len(published_runs(settings)) == 2
    assert settings.snapshot.stat().st_ino != snapshot_before.st_ino


def test_garbage_and_hostile_files_in_every_landing_folder_are_named_and_the_run_succeeds(
    pipeline_run, tmp_path
):
    data_dir = tmp_path / "copy"
    shutil.copytree(
        pipeline_run["data_dir"], data_dir, ignore=shutil.ignore_patterns("dagster_home")
    )
    landing = data_dir / "landing"
    garbage = b"\x89PNG\r\n\x1a\n not a feed at all \xff\xfe" * 50
    dropped = {}
    for name, feed in FEEDS.items():
        suffix = feed.patterns[0].lstrip("*")
        path = landing / feed.folder / f"zz_garbage_{name}{suffix}"
        path.write_bytes(garbage + name.encode())  # distinct bytes per feed, so none is a copy
        dropped[name] = path
    # Hostile files (tests/test_hostile_files.py has one of each per format): JSON nested
    # 10,000 levels (it used to stop every later run), invalid UTF-8 in a JSON string, and a
    # link to a file outside the landing zone, whose content must appear nowhere.
    secret = tmp_path / "outside.csv"
    secret.write_text("shipment_id,carrier_code,event_code,event_time\nTOP-SECRET,X,PU,2026\n")
    hostile = {
        "dcsa deep": landing / FEEDS["dcsa"].folder / "zz_deep.json",
        "parcel deep": landing / FEEDS["parcel"].folder / "zz_deep.json",
        "orders deep": landing / FEEDS["orders"].folder / "zz_deep.json",
        "parcel utf8": landing / FEEDS["parcel"].folder / "zz_latin1.json",
        "csv link": landing / FEEDS["csv_events"].folder / "zz_link.csv",
    }
    for label, path in hostile.items():
        if label.endswith("deep"):
            path.write_bytes(b"[" * 10_000 + label.encode().join([b'"', b'"']) + b"]" * 10_000)
    hostile["parcel utf8"].write_bytes(b'{"shipments": [{"id": "Z\xfcrich"}]}')
    hostile["csv link"].symlink_to(secret)
    dropped |= hostile
    # ...and a good file after them in the same folder still loads.
    good = landing / FEEDS["returns"].folder / "zzz_good.csv"
    good.write_text(
        "rma_number,order_id,line_number,quantity,reason,returned_at\n"
        "RMA-HOSTILE-1,O-X,1,1,DEFECT,2026-10-09T10:00:00Z\n"
    )
    before = warehouse_counts(pipeline_run["settings"])
    run = waybill("run", "--quiet", data_dir=data_dir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "nothing new" not in run.stdout  # new files, even failed ones, rebuild and republish
    con = duckdb.connect(str(data_dir / "warehouse" / "waybill.duckdb"), read_only=True)
    assert con.execute(
        "select status, rows_loaded from meta.load_log where source_file = ?",
        [good.relative_to(data_dir).as_posix()],
    ).fetchall() == [("LOADED", 1)]
    assert "TOP-SECRET" not in run.stdout + run.stderr
    snapshot = duckdb.connect(str(data_dir / "serving" / "waybill.duckdb"), read_only=True)
    for table in ("meta.load_log", "meta.quarantine"):
        assert not snapshot.execute(
            f"select count(*) from {table} as t where to_json(t)::varchar like '%TOP-SECRET%'"
        ).fetchall()[0][0]
    for name, path in dropped.items():
        rows = con.execute(
            "select l.status, l.error, q.reason from meta.load_log as l "
            "inner join meta.quarantine as q using (load_id) where l.source_file = ?",
            [path.relative_to(data_dir).as_posix()],
        ).fetchall()
        assert len(rows) == 1, name
        status, error, reason = rows[0]
        assert status == "FAILED" and error and reason.startswith("the whole file was skipped"), (
            name
        )
        assert path.name in run.stdout, f"the run summary names {path.name}"
    after = {k: v for k, v in warehouse_counts(data_dir_settings(data_dir)).items()}
    before[f"raw.{FEEDS['returns'].table}"] += 1  # the good file
    assert {k: v for k, v in after.items() if k.startswith("raw.")} == {
        k: v for k, v in before.items() if k.startswith("raw.")
    }


def data_dir_settings(data_dir: Path):
    from waybill.settings import load_settings

    return load_settings(data_dir)


def test_no_server_path_appears_in_the_snapshot_or_the_exports(pipeline_run):
    """Lineage names files relative to the data directory (landing/<feed>/<file>): the snapshot
    and the exports leave the machine, the server's directory layout does not go with them."""
    import openpyxl

    settings = pipeline_run["settings"]
    root = str(settings.data_dir)
    con = duckdb.connect(str(settings.snapshot), read_only=True)
    try:
        text_columns = con.execute(
            """select schema_name, table_name, column_name from duckdb_columns()
            where data_type = 'VARCHAR' and not internal"""
        ).fetchall()
        leaks = [
            (s, t, c)
            for s, t, c in text_columns
            if con.execute(
                f'select count(*) from "{s}"."{t}" where contains("{c}", ?)', [root]
            ).fetchall()[0][0]
        ]
        [(lineage,)] = con.execute(
            "select any_value(_source_file) from staging.stg_oms__order_lines"
        ).fetchall()
    finally:
        con.close()
    assert leaks == []
    assert lineage.startswith("landing/orders/")
    exports = sorted(settings.exports.iterdir())
    assert exports
    for path in exports:
        if path.suffix == ".csv":
            assert root not in path.read_text(), path.name
        elif path.suffix == ".xlsx":
            wb = openpyxl.load_workbook(path, read_only=True)
            for row in wb["Summary"].iter_rows(values_only=True):
                assert all(root not in str(v) for v in row if v is not None), path.name
