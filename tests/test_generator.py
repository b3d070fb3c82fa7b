"""The synthetic feed generator: determinism, coverage of every feed, manifest row counts that an
independent recount agrees with, well-formed X12 envelopes, a clean FX calendar, and true
carrier behaviour that matches its configuration."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from generator import generate
from generator import world as W
from ingestion.contracts import FEEDS

ORDERS = 1500


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen_a")
    return out, generate(out, orders=ORDERS, seed=11, progress=False)


@pytest.fixture(scope="module")
def big_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen_big")
    return out, generate(out, orders=6000, seed=3, progress=False)


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------- independent recount
def _x12_segments(text: str) -> tuple[list[str], str]:
    """Split an interchange on the terminator and element separator ISA declares."""
    elem, term = text[3], text[105]
    segs = [s.strip("\r\n") for s in text.split(term)]
    return [s for s in segs if s], elem


def _recount(path: Path, fmt: str) -> int:
    if fmt in ("csv", "order_file") and path.suffix == ".csv":
        with open(path, newline="") as fh:
            return sum(1 for _ in csv.reader(fh)) - 1
    if fmt == "order_file" and path.suffix == ".parquet":
        return pl.read_parquet(path).height
    if fmt == "order_file" and path.suffix == ".xlsx":
        return pl.read_excel(path).height
    if fmt == "order_file" and path.suffix == ".json":
        return sum(len(o["lines"]) for o in json.loads(path.read_text()))
    if fmt in ("x12_214", "x12_210"):
        segs, elem = _x12_segments(path.read_text())
        tag = "AT7" if fmt == "x12_214" else "L1"
        return sum(1 for s in segs if s.split(elem)[0] == tag)
    if fmt == "dcsa_json":
        data = json.loads(path.read_text())
        return len(data["events"] if isinstance(data, dict) else data)
    if fmt == "parcel_json":
        data = json.loads(path.read_text())
        if "trackResponse" in data:
            return sum(
                len(p["activity"]) for s in data["trackResponse"]["shipment"] for p in s["package"]
            )
        if "output" in data:
            return sum(
                len(r["scanEvents"])
                for t in data["output"]["completeTrackResults"]
                for r in t["trackResults"]
            )
        return sum(len(s["events"]) for s in data["shipments"])
    if fmt == "ecb_fx_csv":
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        return sum(1 for r in rows[1:] for v in r[1:] if v not in ("", "N/A"))
    raise AssertionError(f"no recount for {path}")


# ---------------------------------------------------------------- tests
def test_the_same_orders_and_seed_give_byte_identical_files(run, tmp_path):
    out, _ = run
    again = tmp_path / "again"
    generate(again, orders=ORDERS, seed=11, progress=False)
    assert _digests(out) == _digests(again)


def test_a_different_seed_gives_different_files(run, tmp_path):
    out, _ = run
    other = tmp_path / "other"
    generate(other, orders=ORDERS, seed=12, progress=False)
    a, b = _digests(out), _digests(other)
    assert a["shipments/shipments.csv"] != b["shipments/shipments.csv"]


def test_every_feed_folder_gets_files_matching_its_patterns(run):
    out, manifest = run
    for name, feed in FEEDS.items():
        folder = out / feed.folder
        matched = [p for pat in feed.patterns for p in folder.glob(pat)]
        assert manifest["feeds"][name]["files"], name
        assert matched, f"{name}: nothing in {folder}"


def test_manifest_row_counts_equal_an_independent_recount_of_the_files(run):
    out, manifest = run
    for name, feed in FEEDS.items():
        for rec in manifest["feeds"][name]["files"]:
            assert _recount(out / rec["name"], feed.format) == rec["rows"], rec["name"]


def test_expected_loaded_plus_quarantined_equals_rows_written(run):
    _, manifest = run
    for name, f in manifest["feeds"].items():
        assert f["expected_rows_loaded"] + f["expected_rows_quarantined"] == f["rows_written"], name
        assert len(f["malformed_files"]) == 1, name


def test_planted_malformed_rows_point_at_real_records(run):
    out, manifest = run
    for name in ("x12_214", "x12_210"):
        for rec in manifest["feeds"][name]["files"]:
            segs, elem = _x12_segments((out / rec["name"]).read_text())
            for bad in rec["malformed_rows"]:
                tag = segs[bad["row_number"] - 1].split(elem)[0]
                assert tag == ("AT7" if name == "x12_214" else "L1"), (rec["name"], bad)
    for rec in manifest["feeds"]["shipments"]["files"]:
        lines = (out / rec["name"]).read_text().splitlines()
        for bad in rec["malformed_rows"]:
            assert bad["row_number"] <= len(lines)


def test_x12_envelopes_are_internally_consistent_except_the_planted_bad_file(run):
    out, manifest = run
    for name in ("x12_214", "x12_210"):
        for rec in manifest["feeds"][name]["files"]:
            text = (out / rec["name"]).read_text()
            assert len(text.split(text[105])[0]) + 1 == 106  # ISA is fixed width
            segs, elem = _x12_segments(text)
            isa = segs[0].split(elem)
            assert segs[-1].split(elem) == ["IEA", "1", isa[13]]
            ge = segs[-2].split(elem)
            gs = segs[1].split(elem)
            assert ge[2] == gs[6]
            st_count, start = 0, None
            for i, seg in enumerate(segs):
                el = seg.split(elem)
                if el[0] == "ST":
                    start, control = i, el[2]
                    st_count += 1
                elif el[0] == "SE":
                    assert int(el[1]) == i - start + 1 and el[2] == control, (rec["name"], i)
            assert int(ge[1]) == st_count
        bad = manifest["feeds"][name]["malformed_files"][0]["name"]
        assert "IEA" not in (out / bad).read_text()


def test_x12_files_vary_their_separators_and_declare_them_in_isa(run):
    out, manifest = run
    seps = {(out / r["name"]).read_text()[3] for r in manifest["feeds"]["x12_214"]["files"]}
    terms = {(out / r["name"]).read_text()[105] for r in manifest["feeds"]["x12_214"]["files"]}
    assert len(seps) > 1 and len(terms) > 1


def test_fx_file_has_no_weekend_or_target_holiday_dates_and_keeps_the_ecb_layout(run):
    out, manifest = run
    text = (out / "fx_rates" / "eurofxref-hist.csv").read_text().splitlines()
    assert text[0].startswith("Date,USD,JPY,BGN,CYP,CZK") and text[0].endswith(",")
    dates = [date.fromisoformat(line.split(",")[0]) for line in text[1:]]
    assert dates == sorted(dates, reverse=True)
    assert all(d.weekday() < 5 for d in dates)
    assert date(2026, 4, 3) not in dates and date(2026, 5, 1) not in dates  # Good Friday, 1 May
    missing = manifest["parameters"]["fx"]["missing_business_days"]
    assert len(missing) == 2 and not set(missing) & {d.isoformat() for d in dates}
    assert all(line.endswith(",") for line in text)


def test_every_order_appears_in_exactly_one_order_file(run):
    out, _ = run
    seen: dict[str, str] = {}
    for p in sorted((out / "orders").iterdir()):
        if "NO_" in p.name:
            continue
        if p.suffix == ".csv":
            ids = {r["order_id"] for r in csv.DictReader(io.StringIO(p.read_text()))}
        elif p.suffix == ".parquet":
            ids = set(pl.read_parquet(p)["order_id"])
        elif p.suffix == ".xlsx":
            ids = set(pl.read_excel(p)["order_id"])
        else:
            ids = {o["order_id"] for o in json.loads(p.read_text())}
        for i in {i for i in ids if i and i.startswith("SO")}:
            assert i not in seen, (i, p.name, seen[i])
            seen[i] = p.name
    assert len(seen) == ORDERS


def test_every_order_line_has_a_unit_cost_at_its_skus_share_of_the_price(run):
    out, manifest = run
    truth = manifest["orders"]
    lo, hi = truth["unit_cost_ratio_range"]
    assert 0.55 <= lo < hi <= 0.80
    lines = (
        pl.read_parquet(out / "orders" / "orders_export.parquet")
        .select(
            "sku",
            pl.col("unit_price").cast(pl.Float64, strict=False).alias("price"),
            pl.col("unit_cost").cast(pl.Float64, strict=False).alias("cost"),
        )
        .filter(pl.col("price") >= 100)  # rounding to the cent is < 1 % of these prices
        .with_columns(ratio=pl.col("cost") / pl.col("price"))
    )
    assert lines.height > 0 and lines["cost"].null_count() == 0
    assert lines["ratio"].min() >= lo - 0.01 and lines["ratio"].max() <= hi + 0.01
    # the same SKU always has the same cost ratio (a per-SKU standard cost)
    spread = lines.group_by("sku").agg((pl.col("ratio").max() - pl.col("ratio").min()).alias("d"))
    assert spread["d"].max() < 0.01
    assert truth["lines_with_unit_cost"] == truth["order_lines"]


def test_x12_cities_match_the_reference_locations_seed(run):
    out, manifest = run
    ref = pl.read_csv(W.REF_LOCATIONS_CSV, infer_schema=False)
    known = set(zip(ref["city"], ref["subdivision"], ref["country"]))
    for rec in manifest["feeds"]["x12_214"]["files"]:
        segs, elem = _x12_segments((out / rec["name"]).read_text())
        for s in segs:
            el = s.split(elem)
            if el[0] == "MS1":
                assert tuple(el[1:4]) in known, el


def test_ocean_booking_references_are_shipment_tracking_numbers(run):
    out, manifest = run
    tracking = set(
        pl.read_csv(out / "shipments" / "shipments.csv", infer_schema=False)["tracking_number"]
    )
    for rec in manifest["feeds"]["dcsa"]["files"]:
        data = json.loads((out / rec["name"]).read_text())
        events = data["events"] if isinstance(data, dict) else data
        refs = {
            e["shipmentDetails"]["documentReference"]["reference"]
            if "shipmentDetails" in e
            else e["documentReferences"][0]["documentReferenceValue"]
            for e in events
        }
        assert len(refs & tracking) >= len(refs) - 5


def test_true_on_time_rates_differ_by_carrier_and_match_the_configuration(big_run):
    _, manifest = big_run
    rates = {}
    for code, c in manifest["carriers"].items():
        n = c["delivered"]
        if n < 150:
            continue
        p = c["configured"]["p_on_time"]
        observed = c["on_time_delivered"] / n
        assert abs(observed - p) < 4 * math.sqrt(p * (1 - p) / n) + 0.01, (code, observed, p)
        rates[code] = observed
    assert len(rates) >= 4 and max(rates.values()) - min(rates.values()) > 0.05


def test_shipment_truth_is_written_outside_the_landing_folders(run):
    out, manifest = run
    truth = pl.read_parquet(out / manifest["truth_files"]["shipment_truth"])
    assert truth.height == manifest["orders"]["shipments"]
    assert {
        "shipment_id",
        "carrier",
        "mode",
        "delivered_at",
        "is_damaged",
        "late_responsible_party",
    } <= set(truth.columns)


def test_the_loader_loads_and_quarantines_exactly_what_the_manifest_expects(run):
    load = pytest.importorskip("ingestion.load")
    duckdb = pytest.importorskip("duckdb")
    out, manifest = run
    con = duckdb.connect()
    by_feed = load.load_landing(con, out).by_feed()
    for name, f in manifest["feeds"].items():
        got = by_feed[name]
        assert got["rows_loaded"] == f["expected_rows_loaded"], name
        assert got["rows_quarantined"] == f["expected_rows_quarantined"], name
        assert got["failed"] == len(f["malformed_files"]), name
        assert got["skipped"] == len(f["duplicate_files"]), name
    planted = {
        (Path(r["name"]).name, b["row_number"])
        for f in manifest["feeds"].values()
        for r in f["files"]
        for b in r["malformed_rows"]
    }
    rows = con.execute("select source_file, row_number from meta.quarantine where row_number > 0")
    assert {(Path(s).name, int(n)) for s, n in rows.fetchall()} == planted
