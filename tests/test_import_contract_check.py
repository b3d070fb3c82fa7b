"""Every adapter runs the loader's contract check on its own output (docs/real-data.md).

A row the pipeline would quarantine is caught at import time: the report names the file, field
and rule, the files are held back out of the landing zone and ``waybill import`` exits non-zero,
unless ``--allow-quarantine``. The broken rows here are planted by hand, so the expected counts
are known without running the adapter's logic.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from ingestion.contracts import FEEDS
from ingestion.importers import ImportContractError, run_import
from ingestion.importers.base import Importer, enforce_contract
from ingestion.load import landing_files
from tests.conftest import waybill

OLIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "olist_brazilian_ecommerce"


def _shipment(weight: str) -> dict[str, str]:
    return {
        "shipment_id": "S1",
        "order_id": "O1",
        "line_number": "1",
        "quantity_shipped": "1",
        "carrier_code": "C",
        "mode": "LTL",
        "planned_pickup_end": "2013-05-26T23:59:59+00:00",
        "planned_delivery_end": "2013-05-28T23:59:59+00:00",
        "gross_weight_kg": weight,
    }


def test_float_noise_weight_is_caught_at_import_and_the_files_are_held(tmp_path):
    """The Brunel bug: a binary-float weight has more decimals than the decimal rule allows."""
    imp = Importer("toy", tmp_path, tmp_path)
    rows = pl.DataFrame([_shipment("7.8"), _shipment("7.800000000000001"), _shipment("12")])
    imp.write_feed("shipments", rows)
    imp.mapping("toy", "shipments", 3, 3, {})
    report = imp.finish()

    check = report.contract_check["shipments"]
    assert (check["rows"], check["would_quarantine"]) == (3, 1)
    assert check["by_rule"] == {"gross_weight_kg: type:decimal": 1}
    assert check["examples"][0]["row"] == 2
    assert "7.800000000000001" in check["examples"][0]["reason"]
    assert "gross_weight_kg: type:decimal" in report.summary()

    with pytest.raises(ImportContractError, match="--allow-quarantine") as err:
        enforce_contract(report)
    assert "gross_weight_kg: type:decimal" in str(err.value)
    # the loader finds nothing to load; the file waits under _import/toy_held/ for inspection
    assert landing_files(tmp_path, FEEDS["shipments"]) == []
    held = tmp_path / "_import" / "toy_held" / "shipments" / "toy_shipments.csv"
    assert pl.read_csv(held, infer_schema=False).height == 3
    saved = json.loads((tmp_path / "_import" / "toy_report.json").read_text())
    assert saved["rows_would_quarantine"] == 1 and saved["held_in"].endswith("toy_held")


def test_clean_rows_pass_and_allow_quarantine_keeps_the_files(tmp_path):
    imp = Importer("toy", tmp_path, tmp_path)
    imp.write_feed("shipments", pl.DataFrame([_shipment("7.8"), _shipment("-1")]))
    imp.mapping("toy", "shipments", 2, 2, {})
    report = enforce_contract(imp.finish(), allow_quarantine=True)
    assert report.contract_check["shipments"]["by_rule"] == {"gross_weight_kg: min:0": 1}
    assert report.held_in is None
    assert len(landing_files(tmp_path, FEEDS["shipments"])) == 1

    clean = Importer("clean", tmp_path / "c", tmp_path / "c")
    clean.write_feed("shipments", pl.DataFrame([_shipment("7.8")]))
    clean.mapping("clean", "shipments", 1, 1, {})
    assert enforce_contract(clean.finish()).rows_would_quarantine == 0


@pytest.mark.skipif(not OLIST.is_dir(), reason="real data sets not available (../shared/datasets)")
def test_olist_negative_price_fails_the_cli_import_with_the_rule(tmp_path):
    """One order_items price made negative: the adapter maps it (it is a number), the contract
    check finds it in the order line (unit_price) and the invoice's GOODS line (amount)."""
    src = tmp_path / "src" / "subset_2017_10k"
    src.mkdir(parents=True)
    for f in (OLIST / "subset_2017_10k").iterdir():
        shutil.copyfile(f, src / f.name)
    (tmp_path / "src" / "full_tables").symlink_to(OLIST / "full_tables")
    items = pl.read_csv(src / "order_items.csv", infer_schema=False)
    items = items.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("-199.9"))
        .otherwise(pl.col("price"))
        .alias("price")
    )
    items.write_csv(src / "order_items.csv")

    data_dir = tmp_path / "data"
    res = waybill(
        "import", "olist", "--source", str(src), "--into", str(data_dir), data_dir=data_dir
    )
    assert res.returncode == 3, res.stdout + res.stderr
    assert "unit_price: min:0" in res.stderr and "--allow-quarantine" in res.stderr
    report = json.loads((data_dir / "landing" / "_import" / "olist_report.json").read_text())
    bad = {k: v["by_rule"] for k, v in report["contract_check"].items() if v["would_quarantine"]}
    assert bad == {"orders": {"unit_price: min:0": 1}, "customer_invoices": {"amount: min:0": 1}}
    landing = data_dir / "landing"
    assert all(landing_files(landing, feed) == [] for feed in FEEDS.values())

    # the same import with --allow-quarantine leaves the files for the pipeline to quarantine
    ok = run_import("olist", tmp_path / "allowed", src, allow_quarantine=True)
    assert ok.rows_would_quarantine == 2 and ok.held_in is None
    assert landing_files(tmp_path / "allowed", FEEDS["orders"])
