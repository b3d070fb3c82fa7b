"""rpt_carrier_scorecard against the generator's truth.

Uses the session's real pipeline run (``pipeline_run``: 1,500 orders, seed 7). Three sources of
truth, none of them the project's SQL:

* ``manifest.json`` ``carriers.<code>``: shipments, delivered, on-time deliveries (gross and
  carrier-controllable), damaged shipments, shipments with an exception, and the configured
  on-time probability;
* ``_truth/shipment_truth.parquet`` (true UTC pickup and delivery times, planned windows) with
  the lane from the landing ``shipments.csv``: the cells (carrier x lane x mode x month of the
  planned pickup), volumes, transit statistics, on-time pickups and transit reliability are
  recomputed here with polars;
* ``_truth/invoice_truth.parquet`` (which invoice the carriers sent for which shipment and what
  was planted in it; its counts agree with the manifest, see test_finance): invoice accuracy per
  cell and carrier, the shipments invoiced and, with ``shipments.csv``, their weight;
* the composite score, recomputed in Python from the mart's rates and the weights in
  ``dbt_project.yml``.

The money totals are reconciled with ``fct_freight_audit_invoices`` (the audit is tested against
the truth in test_finance): the scorecard must neither lose nor double an invoice.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import duckdb
import polars as pl
import pytest
import yaml

from waybill.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

#: dbt vars (defaults in dbt_project.yml) the truth recomputation uses
VARS = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
PICKUP_EARLY = timedelta(hours=VARS["on_time_pickup_early_tolerance_hours"])
PICKUP_GRACE = timedelta(hours=VARS["on_time_pickup_grace_hours"])
RELIABILITY_DAYS = VARS["transit_reliability_tolerance_days"]
CELL = ["carrier_code", "lane", "transport_mode", "month_start_date"]


@pytest.fixture(scope="module")
def scorecard(pipeline_run) -> pl.DataFrame:
    con = duckdb.connect(str(pipeline_run["settings"].warehouse), read_only=True)
    try:
        return con.sql("select * from marts.rpt_carrier_scorecard").pl()
    finally:
        con.close()


def read(pipeline_run, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(pipeline_run["settings"].warehouse), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def truth_shipments(pipeline_run) -> pl.DataFrame:
    """One row per true shipment with its cell and true flags, from the generator's files."""
    landing = pipeline_run["settings"].landing
    truth = pl.read_parquet(landing / pipeline_run["manifest"]["truth_files"]["shipment_truth"])
    truth = truth.with_columns(pl.col(pl.Datetime("us", "UTC")).dt.replace_time_zone(None))
    lanes = (
        pl.read_csv(
            landing / "shipments" / "shipments.csv",
            infer_schema=False,
            columns=["shipment_id", "origin_locode", "destination_locode"],
        )
        .unique()
        .select(
            "shipment_id",
            pl.concat_str("origin_locode", "destination_locode", separator="->").alias("lane"),
        )
    )
    days = pl.duration(days=1)

    def midpoint(start: str, end: str) -> pl.Expr:
        return pl.col(start) + (pl.col(end) - pl.col(start)) / 2

    return (
        truth.join(lanes, on="shipment_id", how="left")
        .with_columns(
            pl.col("carrier").alias("carrier_code"),
            pl.col("mode").alias("transport_mode"),
            pl.col("planned_pickup_start").dt.truncate("1mo").dt.date().alias("month_start_date"),
            ((pl.col("delivered_at") - pl.col("picked_up_at")) / days).alias("transit_days"),
            (
                (
                    midpoint("planned_delivery_start", "planned_delivery_end")
                    - midpoint("planned_pickup_start", "planned_pickup_end")
                )
                / days
            ).alias("planned_transit_days"),
            pl.when(pl.col("picked_up_at").is_not_null())
            .then(
                pl.col("picked_up_at").is_between(
                    pl.col("planned_pickup_start") - PICKUP_EARLY,
                    pl.col("planned_pickup_end") + PICKUP_GRACE,
                )
            )
            .alias("pickup_on_time"),
        )
        .with_columns(
            (
                (pl.col("transit_days") - pl.col("planned_transit_days")).abs() <= RELIABILITY_DAYS
            ).alias("transit_reliable")
        )
    )


@pytest.fixture(scope="module")
def truth_cells(truth_shipments) -> pl.DataFrame:
    return truth_shipments.group_by(CELL).agg(
        pl.len().alias("shipments_truth"),
        pl.col("picked_up_at").is_not_null().sum().alias("picked_up_truth"),
        pl.col("delivered_at").is_not_null().sum().alias("delivered_truth"),
        pl.col("transit_days").count().alias("transit_n_truth"),
        pl.col("transit_days").mean().alias("transit_mean_truth"),
        pl.col("transit_days").std().alias("transit_std_truth"),
        pl.col("transit_days").quantile(0.5, interpolation="linear").alias("transit_p50_truth"),
        pl.col("transit_days").quantile(0.9, interpolation="linear").alias("transit_p90_truth"),
    )


def per_carrier(scorecard: pl.DataFrame) -> dict[str, dict]:
    numbers = [c for c in scorecard.columns if c.endswith(("_numerator", "_denominator"))]
    summed = scorecard.group_by("carrier_code").agg(
        pl.col("shipments", "shipments_picked_up", "shipments_delivered", *numbers).sum()
    )
    return {row["carrier_code"]: row for row in summed.iter_rows(named=True)}


def test_one_row_per_true_cell_with_the_true_volumes(scorecard, truth_cells):
    assert scorecard.select(CELL).is_duplicated().sum() == 0
    assert scorecard["carrier_scorecard_id"].is_unique().all()
    joined = scorecard.join(truth_cells, on=CELL, how="full", coalesce=True)
    assert joined.height == scorecard.height == truth_cells.height
    for ours, true in [
        ("shipments", "shipments_truth"),
        ("shipments_picked_up", "picked_up_truth"),
        ("shipments_delivered", "delivered_truth"),
        ("transit_shipments", "transit_n_truth"),
    ]:
        wrong = joined.filter(pl.col(ours) != pl.col(true))
        assert wrong.is_empty(), wrong.select(*CELL, ours, true)


def test_transit_statistics_per_cell_equal_the_true_times(scorecard, truth_cells):
    """Within 0.01 day (14 minutes): X12 214 times carry no seconds. A wall-clock time in the
    hour repeated when clocks go back (25 Oct 2026 in Europe) may read one hour late (see
    test_milestones): a cell holding such a shipment may be off by up to an hour (1/24 day);
    at seed 7 one UPS pickup is."""
    joined = scorecard.join(truth_cells, on=CELL)
    for ours, true in [
        ("transit_time_days_mean", "transit_mean_truth"),
        ("transit_time_days_stddev", "transit_std_truth"),
        ("transit_time_days_p50", "transit_p50_truth"),
        ("transit_time_days_p90", "transit_p90_truth"),
    ]:
        assert (joined[ours].is_null() == joined[true].is_null()).all(), ours
        difference = (pl.col(ours) - pl.col(true)).abs()
        assert joined.filter(difference > 1 / 24 + 0.001).is_empty(), ours
        off = joined.filter(difference > 0.01)
        assert off.height <= 2, off.select(*CELL, ours, true).rows()
    with_spread = joined.filter(pl.col("transit_time_days_stddev").is_not_null())
    assert with_spread.height > 50
    cv = with_spread["transit_time_days_stddev"] / with_spread["transit_time_days_mean"]
    assert ((with_spread["transit_time_days_cv"] - cv).abs() < 1e-9).all()


def test_on_time_pickup_and_transit_reliability_per_carrier_equal_the_truth(
    scorecard, truth_shipments
):
    """Exact but for a shipment right on a bound, where an X12 time floored to the minute or a
    repeated wall-clock hour can move it across (at most one per carrier)."""
    got = per_carrier(scorecard)
    true = {
        row["carrier_code"]: row
        for row in truth_shipments.group_by("carrier_code")
        .agg(
            pl.col("pickup_on_time").sum().alias("pickup_num"),
            pl.col("pickup_on_time").count().alias("pickup_den"),
            pl.col("transit_reliable").sum().alias("reliable_num"),
            pl.col("transit_reliable").count().alias("reliable_den"),
        )
        .iter_rows(named=True)
    }
    assert set(got) == set(true)
    for code, row in true.items():
        assert got[code]["on_time_pickup_denominator"] == row["pickup_den"], code
        assert abs(got[code]["on_time_pickup_numerator"] - row["pickup_num"]) <= 1, code
        assert got[code]["transit_reliability_denominator"] == row["reliable_den"], code
        assert abs(got[code]["transit_reliability_numerator"] - row["reliable_num"]) <= 1, code


def test_per_carrier_outcomes_equal_the_manifest(pipeline_run, scorecard):
    """Delivered, gross and carrier-controllable on-time deliveries, damaged shipments and
    shipments with an exception are exact (DHL's on-hold code and DCSA holds and inspections
    name their cause only in text, which map_event_remark_rules reads)."""
    got = per_carrier(scorecard)
    carriers = pipeline_run["manifest"]["carriers"]
    assert set(got) == set(carriers)
    for code, truth in carriers.items():
        row = got[code]
        assert row["shipments"] == row["exception_denominator"] == truth["shipments"], code
        assert row["shipments_picked_up"] == row["damage_denominator"] == truth["picked_up"], code
        assert row["shipments_delivered"] == truth["delivered"], code
        assert row["on_time_delivery_denominator"] == truth["delivered"], code
        assert row["on_time_delivery_numerator"] == truth["on_time_delivered"], code
        assert row["damage_numerator"] == truth["damaged"], code
        assert row["exception_numerator"] == truth["shipments_with_exception"], code
        numerator = row["on_time_delivery_controllable_numerator"]
        assert numerator == truth["on_time_controllable_delivered"], code


def test_on_time_delivery_rate_recovers_the_configured_probability_within_sampling_error(
    pipeline_run, scorecard
):
    """The generator draws on time per shipment with the carrier's configured probability p.
    Over n delivered shipments the rate lies within 4 standard errors of p, plus the censoring
    the generator documents: late deliveries after as_of are not delivered yet, which lifts the
    observed rate (bounded by the in-transit share)."""
    got = per_carrier(scorecard)
    for code, truth in pipeline_run["manifest"]["carriers"].items():
        p = truth["configured"]["p_on_time"]
        n = got[code]["on_time_delivery_denominator"]
        rate = got[code]["on_time_delivery_numerator"] / n
        censored = truth["in_transit_at_as_of"] / truth["shipments"]
        error = 4 * math.sqrt(p * (1 - p) / n)
        assert p - error <= rate <= p + error + censored, (code, rate, p, n)


def test_composite_is_the_weighted_mean_of_the_components_present(scorecard):
    weights = VARS["carrier_scorecard_weights"]
    components = {
        "on_time_pickup_controllable": lambda r: r["on_time_pickup_controllable_rate"],
        "on_time_delivery_controllable": lambda r: r["on_time_delivery_controllable_rate"],
        "transit_reliability": lambda r: r["transit_reliability_rate"],
        "exception_free": lambda r: 1 - r["exception_rate"],
        "damage_free": lambda r: 1 - r["damage_rate"],
        "tracking_compliance": lambda r: r["tracking_compliance_rate"],
        "eta_accuracy": lambda r: r["eta_accuracy_rate"],
        "invoice_accuracy": lambda r: r["invoice_accuracy_rate"],
    }
    assert set(weights) == set(components)
    partial = 0
    for row in scorecard.iter_rows(named=True):
        present = {
            name: weight
            for name, weight in weights.items()
            if row[f"{name.removesuffix('_free')}_denominator"] > 0
        }
        total = sum(present.values())
        expected = sum(w * components[n](row) for n, w in present.items()) / total
        assert row["composite_score"] == pytest.approx(expected, abs=1e-6), row
        assert row["composite_weight_present"] == pytest.approx(
            total / sum(weights.values()), abs=1e-6
        )
        partial += total < sum(weights.values())
    # parcel carriers send no estimates: their rows are scored without ETA accuracy
    assert partial > 0
    parcel = scorecard.filter(pl.col("carrier_code").is_in(["UPS", "FEDEX", "DHL"]))
    assert (parcel["eta_accuracy_denominator"] == 0).all()
    assert parcel["composite_score"].null_count() == 0


@pytest.fixture(scope="module")
def truth_invoices(pipeline_run, truth_shipments) -> pl.DataFrame:
    """One row per invoice copy the carriers sent, with the cell of its shipment (null for a
    shipment we never had) and whether it is accurate by construction: nothing planted in it
    (no duplicate, no unknown shipment, no price error, no unevidenced accessorial)."""
    landing = pipeline_run["settings"].landing
    truth = pl.read_parquet(landing / pipeline_run["manifest"]["truth_files"]["invoice_truth"])
    cells = truth_shipments.select(
        "shipment_id", pl.col("carrier_code").alias("ship_carrier"), *CELL[1:]
    )
    return truth.join(cells, on="shipment_id", how="left").with_columns(
        (
            (pl.col("planted") == "")
            & (pl.col("price_error") == "")
            & ~pl.col("has_unevidenced_redelivery")
            & ~pl.col("has_unevidenced_detention")
        ).alias("accurate_truth")
    )


def test_invoice_accuracy_per_cell_equals_the_invoice_truth(
    pipeline_run, scorecard, truth_invoices
):
    """Each invoice copy counts in the cell of its shipment's planned-pickup month (not its
    invoice month); an invoice for a shipment we never had is in no cell. Exact: the audit flags
    exactly the planted problems at this seed (test_finance)."""
    known = truth_invoices.filter(pl.col("ship_carrier").is_not_null())
    assert (known["ship_carrier"] == known["carrier_code"]).all()
    unknown = truth_invoices.filter(pl.col("ship_carrier").is_null())
    assert (unknown["planted"] == "UNKNOWN_SHIPMENT").all() and unknown.height > 0
    true_cells = known.group_by(CELL).agg(
        pl.len().alias("audited_truth"), pl.col("accurate_truth").sum().alias("accurate_truth")
    )
    joined = scorecard.join(true_cells, on=CELL, how="left").with_columns(
        pl.col("audited_truth", "accurate_truth").fill_null(0)
    )
    assert joined.height == scorecard.height  # every invoiced cell is a scorecard cell
    assert true_cells.join(scorecard, on=CELL, how="anti").is_empty()
    wrong = joined.filter(
        (pl.col("invoice_accuracy_denominator") != pl.col("audited_truth"))
        | (pl.col("invoice_accuracy_numerator") != pl.col("accurate_truth"))
    )
    assert wrong.is_empty(), wrong.select(*CELL, "invoice_accuracy_numerator", "accurate_truth")
    # per carrier: every invoice of the manifest but those for unknown shipments
    got = per_carrier(scorecard)
    for code, truth in pipeline_run["manifest"]["carriers"].items():
        sent = (
            truth["invoices"]
            + truth["duplicate_invoices_resent"]
            + truth["duplicate_invoices_renumbered"]
        )
        assert got[code]["invoice_accuracy_denominator"] == sent, code
        mine = known.filter(pl.col("carrier_code") == code)
        assert got[code]["invoice_accuracy_numerator"] == mine["accurate_truth"].sum(), code
    # the rate and the composite component: cells without invoices are scored without it
    rated = scorecard.filter(pl.col("invoice_accuracy_denominator") > 0)
    rate = rated["invoice_accuracy_numerator"] / rated["invoice_accuracy_denominator"]
    assert ((rated["invoice_accuracy_rate"] - rate).abs() < 1e-12).all()
    assert (
        scorecard.filter(pl.col("invoice_accuracy_denominator") == 0)["invoice_accuracy_rate"]
        .is_null()
        .all()
    )


def test_shipments_and_weight_invoiced_equal_the_truth(pipeline_run, scorecard, truth_invoices):
    """Cost denominators: the distinct shipments with an invoice we accept to pay (every
    shipment invoiced at least once without a planted duplicate / unknown shipment) and their
    gross weight from the landing shipments file."""
    landing = pipeline_run["settings"].landing
    weights = (
        pl.read_csv(
            landing / "shipments" / "shipments.csv",
            infer_schema=False,
            columns=["shipment_id", "gross_weight_kg"],
        )
        .with_columns(pl.col("gross_weight_kg").cast(pl.Float64, strict=False))
        .group_by("shipment_id")
        .agg(pl.col("gross_weight_kg").max())
    )
    paid = (
        truth_invoices.filter(pl.col("ship_carrier").is_not_null() & (pl.col("planted") == ""))
        .select(*CELL, "shipment_id")
        .unique()
        .join(weights, on="shipment_id", how="left")
        .group_by(CELL)
        .agg(pl.len().alias("shipments_truth"), pl.col("gross_weight_kg").sum().alias("kg_truth"))
    )
    joined = scorecard.join(paid, on=CELL, how="left").with_columns(
        pl.col("shipments_truth").fill_null(0), pl.col("kg_truth").fill_null(0.0)
    )
    wrong = joined.filter(pl.col("shipments_invoiced") != pl.col("shipments_truth"))
    assert wrong.is_empty(), wrong.select(*CELL, "shipments_invoiced", "shipments_truth")
    off = joined.filter(
        (pl.col("invoiced_gross_weight_kg").cast(pl.Float64) - pl.col("kg_truth")).abs() > 0.01
    )
    assert off.is_empty(), off.select(*CELL, "invoiced_gross_weight_kg", "kg_truth")


def test_money_totals_reconcile_with_the_audited_invoices(pipeline_run, scorecard):
    """Summed over the scorecard, the invoiced, payable and expected amounts and the invoice
    counts equal fct_freight_audit_invoices for the invoices of our shipments (per carrier,
    to the cent); the rest are exactly the invoices for unknown shipments, which
    rpt_carrier_cost_monthly keeps in its '(unmatched)' rows. Both money marts add up to the
    same totals: they differ only in the month an invoice counts in."""
    invoices = read(
        pipeline_run,
        """
        select
            invoices.carrier_code,
            shipments.shipment_id is not null as is_ours,
            count(*) as invoices,
            sum(case when invoices.is_accurate then 1 else 0 end) as accurate,
            sum(invoices.invoiced_reporting_amount) as invoiced,
            sum(case when not (invoices.is_duplicate or invoices.is_unmatched)
                then invoices.invoiced_reporting_amount else 0 end) as payable,
            sum(case when not (invoices.is_duplicate or invoices.is_unmatched)
                then invoices.expected_reporting_amount else 0 end) as expected
        from marts.fct_freight_audit_invoices as invoices
        left join marts.fct_shipments as shipments
            on invoices.shipment_id = shipments.shipment_id
            and invoices.carrier_code = shipments.carrier_code
        group by all
        """,
    )
    ours = {r["carrier_code"]: r for r in invoices.filter("is_ours").iter_rows(named=True)}
    summed = scorecard.group_by("carrier_code").agg(
        pl.col(
            "invoice_accuracy_denominator",
            "invoice_accuracy_numerator",
            "invoiced_reporting_amount",
            "payable_reporting_amount",
            "expected_reporting_amount",
        ).sum()
    )
    assert summed.filter(pl.col("invoice_accuracy_denominator") > 0).height == len(ours)
    for row in summed.iter_rows(named=True):
        truth = ours.get(row["carrier_code"])
        if truth is None:
            assert row["invoice_accuracy_denominator"] == 0
            continue
        assert row["invoice_accuracy_denominator"] == truth["invoices"], row
        assert row["invoice_accuracy_numerator"] == truth["accurate"], row
        assert row["invoiced_reporting_amount"] == truth["invoiced"], row
        assert row["payable_reporting_amount"] == truth["payable"], row
        assert row["expected_reporting_amount"] == truth["expected"], row
    assert all(scorecard["reporting_currency"] == VARS["reporting_currency"])

    others = invoices.filter(~pl.col("is_ours"))
    unmatched = read(
        pipeline_run,
        "select carrier_code, invoices_audited, invoiced_reporting_amount "
        "from marts.rpt_carrier_cost_monthly where lane = '(unmatched)'",
    )
    assert others["invoices"].sum() == unmatched["invoices_audited"].sum() > 0
    assert others["invoiced"].sum() == unmatched["invoiced_reporting_amount"].sum()
    monthly = read(
        pipeline_run,
        "select sum(invoices_audited) as n, sum(invoiced_reporting_amount) as invoiced, "
        "sum(payable_reporting_amount) as payable from marts.rpt_carrier_cost_monthly",
    ).row(0, named=True)
    assert (
        monthly["n"] == scorecard["invoice_accuracy_denominator"].sum() + others["invoices"].sum()
    )
    assert monthly["invoiced"] == (
        scorecard["invoiced_reporting_amount"].sum() + others["invoiced"].sum()
    )
    assert (
        monthly["payable"] == scorecard["payable_reporting_amount"].sum() + others["payable"].sum()
    )

    # the cost ratios only divide their numerator and denominators
    costed = scorecard.filter(pl.col("shipments_invoiced") > 0)
    assert costed.height > 100
    cent, tenth_mill = Decimal("0.005"), Decimal("0.00005")
    for row in costed.iter_rows(named=True):
        per_shipment = row["payable_reporting_amount"] / row["shipments_invoiced"]
        assert abs(row["cost_per_shipment_reporting_amount"] - per_shipment) <= cent, row
        per_kg = row["payable_reporting_amount"] / row["invoiced_gross_weight_kg"]
        assert abs(row["cost_per_kg_reporting_amount"] - per_kg) <= tenth_mill, row
    empty = scorecard.filter(pl.col("shipments_invoiced") == 0)
    assert empty["cost_per_shipment_reporting_amount"].is_null().all()
    assert empty["cost_per_kg_reporting_amount"].is_null().all()
