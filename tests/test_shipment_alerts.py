"""rpt_shipment_alerts against the generator's truth.

Uses the session's real pipeline run (``pipeline_run``: 1,500 orders, seed 7). Missed pickups
are the alert the truth file can decide on its own (true pickup times and planned windows), so
the mart is rebuilt on a copy of the warehouse at a pinned as-of time (var ``alert_as_of``)
chosen from the truth while a late pickup is overdue, and its MISSED_PICKUP alerts must be
exactly the truth's. Open exceptions, customs holds and stale shipments depend on events the
truth file does not list (delay and hold times, hub checkpoints); the dbt unit test
``shipment_alerts_open_exceptions_holds_stale_shipments_and_missed_pickups_as_of`` checks
them on a hand-made timeline.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb
import polars as pl
import pytest
import yaml

from tests.test_dbt_project import run_dbt
from waybill.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

VARS = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
GRACE = timedelta(hours=VARS["alert_missed_pickup_grace_hours"])


def read(warehouse, sql: str, read_only: bool = True) -> pl.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=read_only)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def truth(pipeline_run) -> pl.DataFrame:
    path = (
        pipeline_run["settings"].landing / pipeline_run["manifest"]["truth_files"]["shipment_truth"]
    )
    frame = pl.read_parquet(path)
    return frame.with_columns(pl.col(pl.Datetime("us", "UTC")).dt.replace_time_zone(None))


@pytest.fixture(scope="module")
def pinned(pipeline_run, truth, tmp_path_factory):
    """(as_of, alerts) from rpt_shipment_alerts rebuilt on a copy of the warehouse at a time
    when the latest of the true late pickups is half-way overdue."""
    late = truth.with_columns((pl.col("picked_up_at") - pl.col("planned_pickup_end")).alias("late"))
    latest = late.sort("late", descending=True, nulls_last=True).row(0, named=True)
    assert latest["late"] > 2 * GRACE
    as_of = latest["planned_pickup_end"] + latest["late"] / 2
    tmp = tmp_path_factory.mktemp("alerts")
    warehouse = tmp / "warehouse.duckdb"
    shutil.copy(pipeline_run["settings"].warehouse, warehouse)
    result = run_dbt(
        ["run", "--select", "rpt_shipment_alerts", "--vars", f"{{alert_as_of: '{as_of}'}}"],
        tmp,
        warehouse,
    )
    assert result.success, result.exception
    # dbt-duckdb keeps its in-process connection open: a second one must also be read-write
    return as_of, read(warehouse, "select * from marts.rpt_shipment_alerts", read_only=False)


def test_missed_pickups_at_a_pinned_as_of_are_exactly_the_truths_overdue_pickups(pinned, truth):
    as_of, alerts = pinned
    assert (alerts["as_of_at"] == as_of).all()
    done_by_then = pl.col("delivered_at") <= as_of
    expected = truth.filter(
        pl.col("planned_pickup_end") + GRACE <= as_of,
        pl.col("picked_up_at").is_null() | (pl.col("picked_up_at") > as_of),
        ~done_by_then.fill_null(False),
    )
    missed = alerts.filter(pl.col("alert_type") == "MISSED_PICKUP")
    assert set(missed["shipment_id"]) == set(expected["shipment_id"])
    assert missed.height >= 1
    by_id = {row["shipment_id"]: row for row in expected.iter_rows(named=True)}
    for row in missed.iter_rows(named=True):
        opened = by_id[row["shipment_id"]]["planned_pickup_end"] + GRACE
        assert row["opened_at"] == opened
        assert row["age_hours"] == pytest.approx((as_of - opened).total_seconds() / 3600)
        assert row["order_id"] is not None and row["customer_id"] is not None
        assert row["goods_value_amount"] > 0


def test_no_alert_at_the_pinned_as_of_is_for_a_shipment_the_truth_had_delivered(pinned, truth):
    as_of, alerts = pinned
    delivered = set(truth.filter(pl.col("delivered_at") <= as_of)["shipment_id"])
    assert not set(alerts["shipment_id"]) & delivered
    assert (alerts["age_hours"] >= 0).all()
    assert alerts["alert_id"].is_unique().all()


def test_default_as_of_alerts_are_for_open_shipments_of_the_latest_status_time(pipeline_run):
    warehouse = pipeline_run["settings"].warehouse
    alerts = read(warehouse, "select * from marts.rpt_shipment_alerts")
    shipments = read(warehouse, "select * from marts.fct_shipments")
    assert (alerts["as_of_at"] == shipments["current_status_at"].max()).all()
    terminal = shipments.filter(
        pl.col("current_status").is_in(["DELIVERED", "RETURNED", "CANCELLED"])
    )
    assert not set(alerts["shipment_id"]) & set(terminal["shipment_id"])
    exceptions = alerts.filter(pl.col("alert_type").is_in(["OPEN_EXCEPTION", "CUSTOMS_HOLD"]))
    assert exceptions["event_id"].null_count() == 0
    assert exceptions["exception_type"].null_count() == 0


def test_alert_goods_values_convert_at_the_raw_ecb_rate_of_the_as_of_date(pipeline_run):
    """goods_value_reporting_amount = goods_value_amount x (USD per EUR / currency per EUR) of the
    last ECB publication on or before the as-of date, read here from the landing file with
    polars, not from the FX models; so alerts in different currencies can be summed and ranked."""
    alerts = read(
        pipeline_run["settings"].warehouse,
        "select * from marts.rpt_shipment_alerts where goods_value_amount is not null",
    )
    ecb = pl.read_csv(
        pipeline_run["settings"].landing / "fx_rates" / "eurofxref-hist.csv",
        infer_schema=False,
        null_values="N/A",
    )
    as_of = alerts["as_of_at"].max().date()
    published = ecb.with_columns(pl.col("Date").str.to_date()).filter(pl.col("Date") <= as_of)
    day = published.sort("Date").row(-1, named=True)
    per_eur = {k: float(v) for k, v in day.items() if k != "Date" and v not in (None, "")}
    per_eur["EUR"] = 1.0
    currencies = set(alerts["goods_value_currency"])
    assert len(currencies) >= 2, "the fixture should have alerts in several currencies"
    for row in alerts.iter_rows(named=True):
        rate = per_eur["USD"] / per_eur[row["goods_value_currency"]]
        assert row["reporting_currency"] == "USD"
        assert row["goods_value_fx_rate_date"] == day["Date"]
        assert row["goods_value_fx_rate"] == pytest.approx(rate, rel=1e-6)
        expected = round(float(row["goods_value_amount"]) * rate, 2)
        assert float(row["goods_value_reporting_amount"]) == pytest.approx(expected, abs=0.011)
