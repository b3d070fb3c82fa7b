"""Incremental builds equal full builds (dbt_project/macros/incremental.sql, waybill/build_state.py).

One warehouse takes a sequence of deliveries the way production does (load the new files, plan
the build, `dbt build` incrementally, record it); a second warehouse loads exactly the same
files in the same batches and is rebuilt from scratch (`--full-refresh`) at checkpoints. Every
staging, intermediate and mart table, and the published snapshot, must then be equal row for
row (EXCEPT ALL both ways), apart from the load time stamp and the last bits of doubles.

The deliveries: a generated base; the generator's next delivery (new orders, events of open
shipments, late and corrected events, DCSA retractions, re-sent and new invoices); events that
arrive before their shipment, then the shipment (re-link); a corrected shipment feed that moves
a tracking number (its parcel events un-link); a corrected order creation time; a build that
stops half way and the build after it; a re-sent identical file; a late ECB file.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ingestion.load import load_landing
from tests.conftest import waybill
from waybill import build_state
from waybill.build_state import (
    BuildPlan,
    fingerprint,
    plan_build,
    publish_since,
    record_build,
    record_build_inputs,
    record_published,
)
from waybill.publish import publish_snapshot
from waybill.settings import DBT_PROJECT_DIR

ORDERS = 1000
SEED = 11
DBT = Path(sys.executable).with_name("dbt")
SCHEMAS = ("staging", "intermediate", "marts")
#: differs between two loads of the same file (when it was loaded), by design
LOAD_TIME_COLUMNS = {"_loaded_at", "published_at"}


class Warehouse:
    """A data dir with its landing zone and warehouse, fed delivery by delivery."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.landing = root / "landing"
        self.path = root / "warehouse.duckdb"
        self.snapshot = root / "serving" / "snapshot.duckdb"
        self.landing.mkdir(parents=True)
        self.runs = 0
        self.published_incrementally = False

    def deliver(self, files: dict[str, Path]) -> None:
        """Copy files (landing-relative name -> source) into the landing zone and load them."""
        for name, source in files.items():
            target = self.landing / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        with duckdb.connect(str(self.path)) as con:
            load_landing(con, self.landing, run_id="test")

    def newest_load(self) -> int:
        with duckdb.connect(str(self.path)) as con:
            return con.execute("select coalesce(max(load_id), 0) from meta.load_log").fetchall()[0][
                0
            ]

    def dbt(self, *args: str) -> None:
        done = subprocess.run(
            [
                str(DBT),
                "build",
                "--exclude-resource-type",
                "unit_test",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(self.root / "target"),
                "--log-path",
                str(self.root / "logs"),
                "--quiet",
                *args,
            ],
            env={
                "PATH": str(DBT.parent),
                "HOME": str(self.root),
                "WAYBILL_WAREHOUSE_PATH": str(self.path),
                "DO_NOT_TRACK": "1",
            },
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    def build(self, force_full: bool = False) -> BuildPlan:
        """What the Dagster dbt and publish steps do: plan, build, record, publish."""
        self.runs += 1
        run_id = f"run{self.runs}"
        with duckdb.connect(str(self.path)) as con:
            inputs = fingerprint(con)
            record_build_inputs(con, run_id, inputs)
            plan = plan_build(con, inputs[1], force_full=force_full)
            if plan.full_refresh:
                record_build(con, run_id, plan, finished=False)
        self.dbt(*plan.dbt_args())
        with duckdb.connect(str(self.path)) as con:
            record_build(con, run_id, plan)
            since = publish_since(con, run_id)
            self.published_incrementally = publish_snapshot(
                con, self.snapshot, run_id=run_id, since=since
            )["incremental"]
            record_published(con, run_id)
        return plan


def table_differences(left: Path, right: Path, schemas=SCHEMAS) -> dict[str, tuple[int, int]]:
    """{table: (rows only in left, rows only in right)} for every table that differs."""
    con = duckdb.connect()
    con.execute(f"attach '{left}' as l (read_only)")
    con.execute(f"attach '{right}' as r (read_only)")
    in_schemas = ", ".join(f"'{s}'" for s in schemas)
    tables = con.execute(
        f"select schema_name, table_name from duckdb_tables() where database_name = 'l' "
        f"and schema_name in ({in_schemas}) order by 1, 2"
    ).fetchall()
    right_tables = con.execute(
        f"select schema_name, table_name from duckdb_tables() where database_name = 'r' "
        f"and schema_name in ({in_schemas}) order by 1, 2"
    ).fetchall()
    assert tables == right_tables
    assert len(tables) > 5
    differences = {}
    for schema, table in tables:
        if table == "int_keys_changed":  # bookkeeping of incremental runs
            continue
        columns = con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 'l' "
            "and schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
        kept = [(c, t) for c, t in columns if c not in LOAD_TIME_COLUMNS]
        select = ", ".join(f'"{c}"' for c, _ in kept)
        only = [
            con.execute(
                f"select {select} from {a}.{schema}.{table} "
                f"except all select {select} from {b}.{schema}.{table}"
            ).fetchall()
            for a, b in (("l", "r"), ("r", "l"))
        ]
        floats = [i for i, (_, t) in enumerate(kept) if t in ("DOUBLE", "FLOAT")]
        if any(only) and not equal_but_for_float_noise(*only, floats):
            differences[f"{schema}.{table}"] = tuple(len(rows) for rows in only)
    return differences


def equal_but_for_float_noise(left: list[tuple], right: list[tuple], floats: list[int]) -> bool:
    """Rows that differ only in doubles by rounding noise (sums and means of doubles depend on
    the order the engine adds them in): paired by their other columns, equal within 1e-9."""

    def key(row: tuple) -> tuple:
        return tuple(repr(v) for i, v in enumerate(row) if i not in floats)

    if len(left) != len(right) or not floats:
        return False
    for a, b in zip(sorted(left, key=key), sorted(right, key=key), strict=True):
        if key(a) != key(b):
            return False
        for i in floats:
            if (a[i] is None) != (b[i] is None):
                return False
            if a[i] is not None and not math.isclose(a[i], b[i], rel_tol=1e-9, abs_tol=1e-9):
                return False
    return True


def assert_equal_to_a_full_build(incremental: Warehouse, full: Warehouse) -> None:
    full.build(force_full=True)
    assert table_differences(incremental.path, full.path) == {}
    # the incremental side published only the changed rows into a copy of its last snapshot
    assert incremental.published_incrementally and not full.published_incrementally
    published = ("staging", "intermediate", "marts", "reference")
    assert table_differences(incremental.snapshot, full.snapshot, schemas=published) == {}


def files_of(folder: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "_truth" not in p.parts and not p.name.startswith("manifest")
    }


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    base, increment = root / "base", root / "increment"
    for args in (
        ("--orders", str(ORDERS), "--seed", str(SEED), "--out", str(base)),
        ("--increment-of", str(base), "--share", "0.02", "--out", str(increment)),
    ):
        done = waybill("generate", *args, "--quiet", data_dir=root / "unused")
        assert done.returncode == 0, done.stdout + done.stderr
    return root, base, increment


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path


@pytest.mark.slow
def test_every_table_and_the_snapshot_equal_a_full_build_after_each_kind_of_delivery(deliveries):
    root, base, increment = deliveries
    inc, full = Warehouse(root / "inc"), Warehouse(root / "full")
    hand = root / "hand"

    def deliver(files: dict[str, Path]) -> None:
        inc.deliver(files)
        full.deliver(files)

    # 1. the base: a first build is a full one
    deliver(files_of(base))
    assert inc.build().full_refresh

    # 2. the generator's next delivery
    deliver(files_of(increment))
    plan = inc.build()
    assert not plan.full_refresh and plan.since is not None
    with duckdb.connect(str(inc.path), read_only=True) as con:
        changed = dict(
            con.execute(
                "select key_type, count(*) from intermediate.int_keys_changed group by 1"
            ).fetchall()
        )
        shipments = con.execute("select count(*) from marts.fct_shipments").fetchall()[0][0]
    # it recomputed a small part of the shipments, not all of them
    assert 0 < changed["SHIPMENT"] < shipments / 3
    assert_equal_to_a_full_build(inc, full)

    # 3. events before their shipment; a moved tracking number; a corrected order time
    shipments = pl.read_csv(base / "shipments" / "shipments.csv", infer_schema=False)
    orders = pl.read_csv(base / "orders" / "orders.csv", infer_schema=False)
    csv_events = pl.read_csv(
        sorted((base / "carrier_events" / "csv").glob("exdo_events_*_0001.csv"))[0],
        infer_schema=False,
    )
    early = csv_events["shipment_id"][0]  # a shipment with carrier CSV events
    new_id = f"{early}N"
    early_events = csv_events.filter(pl.col("shipment_id") == early).with_columns(
        shipment_id=pl.lit(new_id), event_id=pl.col("event_id") + "N"
    )
    # a corrected re-send moves an event (same event id) to another shipment
    first_of = csv_events.group_by("shipment_id", maintain_order=True).first()
    donor, receiver = first_of["shipment_id"][1], first_of["shipment_id"][2]
    moved_event = first_of.filter(pl.col("shipment_id") == donor).with_columns(
        shipment_id=pl.lit(receiver)
    )
    # an older version of a DCSA event, re-sent: it loses to the newer one it already has
    dcsa = json.loads((base / "carrier_events" / "dcsa" / "HLCU_tnt_v30_0001.json").read_text())
    stale = dcsa["events"][0] | {
        "eventUpdatedDateTime": "2026-01-01T00:00:00Z",
        "eventDateTime": "2026-01-01T00:00:00Z",
    }
    (hand / "stale.json").parent.mkdir(parents=True, exist_ok=True)
    (hand / "stale.json").write_text(json.dumps({"events": [stale]}))
    parcel = shipments.filter(pl.col("mode") == "PARCEL")["shipment_id"][0]
    moved = shipments.filter(pl.col("shipment_id") == parcel).with_columns(
        tracking_number=pl.lit("MOVED-0001")
    )
    order = orders["order_id"][5]
    corrected_order = orders.filter(pl.col("order_id") == order).with_columns(
        created_at=pl.lit("2026-07-01T00:00:00+00:00")
    )
    deliver(
        {
            "carrier_events/csv/exdo_events_29990101_0001.csv": write_csv(
                early_events, hand / "early_events.csv"
            ),
            "carrier_events/csv/exdo_events_29990101_0002.csv": write_csv(
                moved_event.select(csv_events.columns), hand / "moved_event.csv"
            ),
            "shipments/shipments_29990101_moved.csv": write_csv(moved, hand / "moved.csv"),
            "carrier_events/dcsa/HLCU_tnt_v30_29990101.json": hand / "stale.json",
            "orders/orders_29990101_corrected.csv": write_csv(
                corrected_order, hand / "corrected_order.csv"
            ),
        }
    )
    assert not inc.build().full_refresh
    with duckdb.connect(str(inc.path), read_only=True) as con:
        unknown = con.execute(
            "select count(*) from marts.fct_shipment_events where carrier_shipment_ref = ? "
            "and shipment_id is null",
            [new_id],
        ).fetchall()[0][0]
        moved_to = con.execute(
            "select shipment_id from marts.fct_shipment_events where source_event_id = ?",
            [moved_event["event_id"][0]],
        ).fetchall()
        versions = con.execute(
            "select _versions_received, event_at from staging.stg_dcsa__events "
            "where dcsa_event_id = ?",
            [stale["eventID"]],
        ).fetchall()
    assert unknown == len(early_events)  # kept, waiting for their shipment
    # counted, and lost to the newer version
    assert versions[0][0] >= 2 and versions[0][1] != datetime(2026, 1, 1)
    assert moved_to == [(receiver,)]

    # 4. the shipment arrives; the build after it stops half way; the next build
    late_shipment = shipments.filter(pl.col("shipment_id") == early).with_columns(
        shipment_id=pl.lit(new_id)
    )
    deliver(
        {
            "shipments/shipments_29990102_late.csv": write_csv(
                late_shipment, hand / "late_shipment.csv"
            )
        }
    )
    with duckdb.connect(str(inc.path)) as con:
        stopped = plan_build(con, inc.newest_load())
    assert not stopped.full_refresh
    # only the first incremental models ran, nothing was recorded (as when dbt is killed)
    inc.dbt("--select", "int_keys_changed", "int_carrier_events_mapped", *stopped.dbt_args())
    resumed = inc.build()
    assert (resumed.since, resumed.full_refresh) == (stopped.since, False)
    with duckdb.connect(str(inc.path), read_only=True) as con:
        linked = con.execute(
            "select count(*) from marts.fct_shipment_events where carrier_shipment_ref = ? "
            "and shipment_id = ?",
            [new_id, new_id],
        ).fetchall()[0][0]
        old_tracking = con.execute(
            "select count(*) from marts.fct_shipment_events where shipment_id = ? "
            "and source = 'PARCEL'",
            [parcel],
        ).fetchall()[0][0]
    assert linked == len(early_events)
    assert old_tracking == 0  # its parcel events carry the old tracking number
    assert_equal_to_a_full_build(inc, full)

    # 5. a re-sent identical file changes nothing; a late ECB file
    before = inc.newest_load()
    deliver({"shipments/shipments_29990103_again.csv": hand / "late_shipment.csv"})
    assert inc.build().since == before
    fx = pl.read_csv(base / "fx_rates" / "eurofxref-hist.csv", infer_schema=False)
    deliver({"fx_rates/eurofxref-hist-29990104.csv": write_csv(fx.head(20), hand / "fx.csv")})
    assert not inc.build().full_refresh
    assert_equal_to_a_full_build(inc, full)


def test_a_build_is_full_when_what_the_increments_cannot_track_changed(tmp_path, monkeypatch):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema meta")
    con.execute("create table meta.load_log (load_id bigint, feed varchar, status varchar)")
    con.execute("insert into meta.load_log values (1, 'orders', 'LOADED')")

    first = plan_build(con, 1)
    assert first.full_refresh and first.reason == "no completed build yet"
    record_build(con, "r1", first)

    con.execute("insert into meta.load_log values (2, 'x12_214', 'LOADED_WITH_QUARANTINE')")
    second = plan_build(con, 2)
    assert (second.full_refresh, second.since, second.load_id) == (False, 1, 2)
    assert '"incremental_since": 1' in second.dbt_args()[1]
    assert plan_build(con, 2, force_full=True).full_refresh
    # a Dagster subset: incremental models recompute all their rows, the keys stay recorded
    assert BuildPlan(False, "a subset of the models", 2).dbt_args() == []

    con.execute("insert into meta.load_log values (3, 'carriers', 'FAILED')")
    assert not plan_build(con, 3).full_refresh  # a failed file changes no table
    con.execute("insert into meta.load_log values (4, 'carriers', 'LOADED')")
    assert plan_build(con, 4).reason == "new carriers file(s)"

    # a full build (or a Dagster subset) that did not complete: the next one is full too
    record_build(con, "r2", BuildPlan(True, "asked for", 4), finished=False)
    assert plan_build(con, 4).reason == "a full build or a subset of models did not complete"
    assert publish_since(con, "r2") is None
    record_build(con, "r3", plan_build(con, 4))
    con.execute("insert into meta.load_log values (5, 'orders', 'LOADED')")
    fifth = plan_build(con, 5)
    assert (fifth.full_refresh, fifth.since) == (False, 4)
    # another run built after r3: r3 must not publish incrementally (its keys are pruned)
    record_build(con, "r4", fifth)
    assert publish_since(con, "r3") is None
    monkeypatch.setattr(build_state, "source_hash", lambda: "edited seed")
    assert plan_build(con, 2).reason == "the dbt project or the snapshot code changed"
    monkeypatch.undo()
    monkeypatch.setattr(build_state, "SCHEMA_VERSION", build_state.SCHEMA_VERSION + 1)
    assert plan_build(con, 2).full_refresh
    monkeypatch.undo()
    # loads an earlier build included were deleted by hand (to reload a fixed file)
    con.execute("delete from meta.load_log where load_id = 2")
    assert plan_build(con, 5).reason == "loads the last build included were removed"
