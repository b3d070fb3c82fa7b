"""`waybill generate --increment-of`: a later delivery of about 1 % new data on top of a
generated base (generator/increment.py, docs/generator.md "Increments").

One small base, its increment written into the base's own folder (as into a landing zone) and
twice into separate folders; the real loader loads the base, then the increment."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from generator import generate
from generator.increment import TAG, generate_increment
from ingestion.contracts import FEEDS
from ingestion.load import load_landing
from tests.conftest import waybill

ORDERS = 1500
SEED = 11
EVENT_FEEDS = ("x12_214", "dcsa", "parcel", "csv_events")
SENDER_FEEDS = EVENT_FEEDS + ("x12_210", "carrier_invoices_csv")


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict:
    """base (a pristine copy), landing (base + increment in one folder), a and b (the
    increment alone, twice)."""
    root = tmp_path_factory.mktemp("increment")
    base = root / "base"
    base_manifest = generate(base, orders=ORDERS, seed=SEED, progress=False)
    landing = root / "landing"
    generate(landing, orders=ORDERS, seed=SEED, progress=False)
    before = _digests(landing)
    inc = generate_increment(landing, landing, progress=False)
    a = generate_increment(base, root / "a", progress=False)
    generate_increment(base, root / "b", progress=False)
    return {
        "root": root,
        "base": base,
        "base_manifest": base_manifest,
        "landing": landing,
        "before": before,
        "manifest": inc,
        "manifest_a": a,
    }


@pytest.fixture(scope="module")
def loaded(sets) -> dict:
    """The base, then the increment (its own folder), loaded by the real loader."""
    con = duckdb.connect()
    load_landing(con, sets["base"])
    report = load_landing(con, sets["root"] / "a")
    yield {"con": con, "report": report, "inc_dir": sets["root"] / "a"}
    con.close()


def _rows(loaded, sql: str) -> pl.DataFrame:
    return loaded["con"].sql(sql).pl()


def _from_increment(loaded) -> str:
    # lineage names files relative to the folder holding the landing zone: "<inc dir name>/..."
    return f"_source_file like '{loaded['inc_dir'].name}/%'"


# ---------------------------------------------------------------- the base stays as it was
def test_generating_an_increment_in_place_changes_no_base_file(sets):
    after = _digests(sets["landing"])
    assert {k: after[k] for k in sets["before"]} == sets["before"]
    added = set(after) - set(sets["before"])
    assert f"manifest_{TAG}.json" in added and "manifest.json" not in added
    # the base itself is still what `generate` writes for its parameters
    assert _digests(sets["base"]) == sets["before"]


def test_the_same_base_gives_a_byte_identical_increment(sets):
    a, b = _digests(sets["root"] / "a"), _digests(sets["root"] / "b")
    assert a == b
    landing = _digests(sets["landing"])
    assert {k: landing[k] for k in a} == a  # in place or apart: the same files


def test_increment_file_names_sort_after_the_base_files_of_their_sender(sets):
    base_feeds = sets["base_manifest"]["feeds"]
    for name, feed in sets["manifest"]["feeds"].items():
        base_good = [r["name"] for r in base_feeds[name]["files"]]
        base_all = base_good + [m["name"] for m in base_feeds[name]["malformed_files"]]
        for rec in feed["files"] + feed["duplicate_files"]:
            n = rec["name"]
            assert n not in base_all, n
            if name in SENDER_FEEDS:
                sender = Path(n).name.split("_")[0]
                same = [b for b in base_good if Path(b).name.split("_")[0] == sender]
                assert not same or n > max(same), (n, max(same))
            else:
                assert n > max(base_all, default=""), n


# ---------------------------------------------------------------- the loader agrees
def test_the_loader_loads_and_quarantines_exactly_what_the_increment_manifest_expects(sets, loaded):
    inc_dir = loaded["inc_dir"]
    got = {
        Path(f.source_file).relative_to(inc_dir.name).as_posix(): f for f in loaded["report"].files
    }
    manifest = sets["manifest_a"]
    expected_names = set()
    for name, feed in manifest["feeds"].items():
        for rec in feed["files"]:
            expected_names.add(rec["name"])
            f = got[rec["name"]]
            assert f.status in ("LOADED", "LOADED_WITH_QUARANTINE"), (rec["name"], f.error)
            assert f.rows_read == rec["rows"] == f.rows_loaded + f.rows_quarantined, rec["name"]
            assert f.rows_quarantined == len(rec["malformed_rows"]), rec["name"]
        for dup in feed["duplicate_files"]:
            expected_names.add(dup["name"])
            assert got[dup["name"]].status == "SKIPPED", dup
        by_feed = loaded["report"].by_feed().get(name, {})
        assert by_feed.get("rows_loaded", 0) == feed["expected_rows_loaded"], name
        assert by_feed.get("rows_quarantined", 0) == feed["expected_rows_quarantined"], name
    assert set(got) == expected_names
    quarantined = set(
        loaded["con"]
        .execute(
            f"select source_file, row_number from meta.quarantine where {_from_increment(loaded)}".replace(
                "_source_file", "source_file"
            )
        )
        .fetchall()
    )
    for feed in manifest["feeds"].values():
        for rec in feed["files"]:
            for bad in rec["malformed_rows"]:
                assert (f"{inc_dir.name}/{rec['name']}", bad["row_number"]) in quarantined, rec


# ---------------------------------------------------------------- every kind of change
def test_the_increment_holds_every_kind_of_change(sets):
    ch = sets["manifest"]["changes"]
    assert 0.005 * ORDERS <= ch["new_orders"] <= 0.015 * ORDERS
    for key in (
        "new_order_lines",
        "new_shipments_of_new_orders",
        "events_for_new_shipments",
        "events_for_open_base_shipments",
        "late_events_for_delivered_base_shipments",
        "corrected_base_events",
        "retracted_base_events",
        "new_invoices",
        "resent_invoice_files",
        "base_shipments_resent_with_shipped_at",
    ):
        assert ch[key] > 0, key
    planted = {
        tag
        for f in EVENT_FEEDS
        for tag in sets["manifest"]["feeds"][f]["planted"].get("events", {})
    }
    assert {"late_after_base", "correction_of_base", "retraction_of_base"} <= planted
    assert sets["manifest"]["kind"] == "increment"
    assert sets["manifest"]["base"] == sets["base_manifest"]["parameters"]


def test_new_orders_are_later_than_every_base_order(loaded, sets):
    orders = _rows(
        loaded,
        "select order_id, cast(created_at as timestamptz) as created, "
        f"{_from_increment(loaded)} as inc from raw.orders",
    )
    inc, base = orders.filter(pl.col("inc")), orders.filter(~pl.col("inc"))
    assert inc["order_id"].n_unique() == sets["manifest"]["changes"]["new_orders"]
    assert not set(inc["order_id"]) & set(base["order_id"])
    assert inc["created"].min() > base["created"].max()


def test_open_base_shipments_get_new_events_and_delivered_ones_late_events(loaded, sets):
    base_truth = pl.read_parquet(sets["base"] / "_truth" / "shipment_truth.parquet")
    delivered = set(base_truth.filter(pl.col("delivered_at").is_not_null())["shipment_id"])
    open_ = set(
        base_truth.filter(pl.col("delivered_at").is_null() & pl.col("returned_at").is_null())[
            "shipment_id"
        ]
    )
    by_tracking = dict(zip(base_truth["tracking_number"], base_truth["shipment_id"]))
    cut = sets["manifest"]["parameters"]["base_last_event_time"][:10]
    inc = _from_increment(loaded)
    events = pl.concat(
        [
            _rows(
                loaded,
                "select shipment_id, strptime(event_date, '%Y%m%d')::date::varchar as day "
                f"from raw.x12_214_events where {inc}",
            ),
            _rows(
                loaded,
                f"select shipment_id, left(event_time, 10) as day from raw.csv_events where {inc}",
            ),
            _rows(
                loaded,
                "select tracking_number as shipment_id, left(event_timestamp, 10) as day "
                f"from raw.parcel_events where {inc}",
            ).with_columns(pl.col("shipment_id").replace(by_tracking)),
        ]
    )
    late = events.filter(pl.col("shipment_id").is_in(delivered) & (pl.col("day") < cut))
    assert late.height >= sets["manifest"]["changes"]["late_events_for_delivered_base_shipments"]
    assert events.filter(pl.col("shipment_id").is_in(open_)).height > 0


def test_corrected_base_events_keep_their_id_and_carry_the_new_truth(loaded, sets):
    inc = _from_increment(loaded)
    corrected = _rows(
        loaded,
        f"""
        with i as (select * from raw.dcsa_events where {inc}),
             b as (select * from raw.dcsa_events where not ({inc}))
        select i.booking_reference, cast(i.event_datetime as timestamptz) as new_at,
               cast(b.event_datetime as timestamptz) as old_at
        from i join b using (event_id)
        where i.is_retracted is null and b.event_datetime <> i.event_datetime
        """,
    )
    csv = _rows(
        loaded,
        f"""
        with i as (select * from raw.csv_events where {inc}),
             b as (select * from raw.csv_events where not ({inc}))
        select distinct i.shipment_id from i join b using (carrier_code, event_id)
        where b.event_time <> i.event_time
        """,
    )
    truth = pl.read_parquet(sets["landing"] / sets["manifest"]["truth_files"]["shipment_truth"])
    listed = set(sets["manifest"]["changes"]["corrected_delivery_shipments"])
    assert corrected.height + csv.height > 0
    assert set(csv["shipment_id"]) <= listed
    for ref, new_at, old_at in corrected.iter_rows():
        row = truth.filter(pl.col("tracking_number") == ref)
        assert row["shipment_id"][0] in listed
        assert row["delivered_at"][0] == new_at != old_at


def test_dcsa_retractions_point_at_base_events(loaded, sets):
    inc = _from_increment(loaded)
    n = _rows(
        loaded,
        f"""
        select count(*) as n from raw.dcsa_events i
        where {inc} and lower(i.is_retracted) = 'true' and i.event_id in
            (select event_id from raw.dcsa_events where not ({inc}))
        """,
    )["n"][0]
    assert n == sets["manifest"]["changes"]["retracted_base_events"] > 0


def test_new_invoices_have_new_numbers_and_resent_files_are_skipped(loaded, sets):
    inc = _from_increment(loaded)
    for table in ("x12_210_invoice_lines", "carrier_invoice_lines"):
        new = _rows(
            loaded,
            f"select distinct invoice_number from raw.{table} where {inc} and invoice_number "
            f"not in (select invoice_number from raw.{table} where not ({inc}))",
        )
        assert new.height > 0, table
    dups = [d for f in sets["manifest"]["feeds"].values() for d in f["duplicate_files"]]
    assert {d["feed"] for d in dups} == {"x12_210", "carrier_invoices_csv"}
    for d in dups:
        copy = sets["landing"] / d["name"]
        assert copy.read_bytes() == (sets["landing"] / d["copy_of"]).read_bytes()


# ---------------------------------------------------------------- truth of base + increment
def test_the_truth_covers_base_and_increment(sets):
    m, bm = sets["manifest"], sets["base_manifest"]
    landing = sets["landing"]
    base = pl.read_parquet(landing / bm["truth_files"]["shipment_truth"])
    comb = pl.read_parquet(landing / m["truth_files"]["shipment_truth"])
    ch = m["changes"]
    assert (
        comb.height
        == base.height + ch["new_shipments_of_base_orders"] + ch["new_shipments_of_new_orders"]
    )
    assert comb["shipment_id"].head(base.height).to_list() == base["shipment_id"].to_list()
    assert m["orders"]["orders"] == bm["orders"]["orders"] + ch["new_orders"]
    assert m["orders"]["shipments"] == comb.height
    # the same world seen later: what the base knew stays true, except the corrected deliveries
    actual = [c for c in comb.columns if c.endswith("_at") and not c.startswith("planned")]
    latest = comb.select(pl.max_horizontal(pl.col(actual).max())).item()
    assert latest.isoformat() <= m["parameters"]["as_of"] < "2026-11-03"
    corrected = set(ch["corrected_delivery_shipments"])
    joined = base.join(comb, on="shipment_id", suffix="_c")
    for col in ("booked_at", "picked_up_at", "arrived_at", "delivered_at", "returned_at"):
        known = joined.filter(pl.col(col).is_not_null())
        if col == "delivered_at":
            moved = known.filter(pl.col(col) != pl.col(col + "_c"))
            assert set(moved["shipment_id"]) == corrected
            assert (moved["delivered_at_c"] < moved["delivered_at"]).all()
            known = known.filter(~pl.col("shipment_id").is_in(corrected))
        assert (known[col] == known[col + "_c"]).all(), col
    # some shipments open in the base are delivered now
    newly = joined.filter(pl.col("delivered_at").is_null() & pl.col("delivered_at_c").is_not_null())
    assert newly.height > 0
    # invoices: the base's rows plus the new ones, and the counts agree
    inv = pl.read_parquet(landing / m["truth_files"]["invoice_truth"])
    base_inv = pl.read_parquet(landing / bm["truth_files"]["invoice_truth"])
    assert inv.height > base_inv.height
    sent = inv.filter(pl.col("planted") == "")
    for code, c in m["carriers"].items():
        assert c["invoices"] == sent.filter(pl.col("carrier_code") == code).height, code
        assert c["invoices"] >= bm["carriers"][code]["invoices"], code
    assert (
        sum(c["invoices"] for c in m["carriers"].values())
        == sum(c["invoices"] for c in bm["carriers"].values()) + ch["new_invoices"]
    )

    # exceptions: the base's, plus the new ones, minus the retracted ones
    def exceptions(man: dict) -> int:
        return sum(sum(c["exceptions_by_type"].values()) for c in man["carriers"].values())

    retracted = sum(r["kind"].startswith("EXC_") for r in ch["retracted_base_events_by_kind"])
    assert retracted == ch["exception_events_retracted"]
    assert exceptions(m) == exceptions(bm) + ch["exception_events_added"] - retracted


def test_the_cli_writes_the_same_increment(sets, tmp_path):
    out = tmp_path / "cli"
    run = waybill(
        "generate", "--increment-of", str(sets["base"]), "--out", str(out), "--quiet",
        data_dir=tmp_path / "data",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert _digests(out) == _digests(sets["root"] / "a")
    bad = waybill(
        "generate", "--increment-of", str(sets["base"]), "--orders", "7", "--out", str(out),
        data_dir=tmp_path / "data",
    )  # fmt: skip
    assert bad.returncode == 2 and "differs" in bad.stderr


def test_every_feed_is_listed_and_the_combined_counts_add_up(sets):
    m, bm = sets["manifest"], sets["base_manifest"]
    assert set(m["feeds"]) == set(m["combined_feeds"]) == set(FEEDS)
    for name, c in m["combined_feeds"].items():
        for k in ("rows_written", "expected_rows_loaded", "expected_rows_quarantined"):
            assert c[k] == bm["feeds"][name][k] + m["feeds"][name][k], (name, k)
        for tag, n in c["planted"].get("events", {}).items():
            parts = (bm, m)
            assert n == sum(p["feeds"][name]["planted"]["events"].get(tag, 0) for p in parts)
    assert json.loads((sets["landing"] / f"manifest_{TAG}.json").read_text()) == json.loads(
        json.dumps(sets["manifest"])
    )
