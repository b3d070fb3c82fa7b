"""kpi_orders_monthly recomputed with plain polars from marts.fct_orders rows.

Uses the session's real pipeline run (``pipeline_run``: 1,500 orders, seed 7). The monthly
aggregation is redone here without the project's SQL: orders due (``is_due``) are grouped by
the calendar month of their reference window end, orders delivered by the month of
``delivered_at``; every numerator, denominator and cycle-time percentile must equal the mart's.
Percentiles use linear interpolation, the definition of SQL ``percentile_cont``.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

pytestmark = pytest.mark.slow

DUE_COUNTS = {
    "orders_due": pl.len(),
    "orders_on_time": pl.col("is_on_time").sum(),
    "orders_in_full": pl.col("is_in_full").sum(),
    "orders_damage_free": pl.col("is_damage_free").sum(),
    "orders_documentation_accurate": pl.col("is_documentation_accurate").sum(),
    "orders_perfect": pl.col("is_perfect_order").sum(),
    "otif_numerator": pl.col("otif_numerator").sum(),
    "otif_denominator": pl.col("otif_denominator").sum(),
    "units_filled": pl.col("units_filled").sum(),
    "units_ordered": pl.col("units_ordered").sum(),
    "lines_complete": pl.col("lines_complete").sum(),
    "lines_total": pl.col("lines_total").sum(),
    "orders_filled_on_first_shipment": pl.col("is_filled_on_first_shipment").sum(),
    "orders_shipped": (pl.col("shipment_count") > 0).sum(),
    "orders_split_shipment": pl.col("is_split_shipment").sum(),
}
DELIVERED_COUNTS = {
    "orders_delivered": pl.len(),
    "units_delivered": pl.col("units_shipped").sum(),
    "units_returned": pl.col("units_returned").sum(),
}
CYCLE_TIME = {
    "cycle_time_days_total": pl.col("cycle_time_days").sum(),
    "cycle_time_days_mean": pl.col("cycle_time_days").mean(),
    "cycle_time_days_p50": pl.col("cycle_time_days").quantile(0.5, interpolation="linear"),
    "cycle_time_days_p90": pl.col("cycle_time_days").quantile(0.9, interpolation="linear"),
}


def read_table(pipeline_run, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(pipeline_run["settings"].warehouse), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def orders(pipeline_run) -> pl.DataFrame:
    return read_table(pipeline_run, "select * from marts.fct_orders")


@pytest.fixture(scope="module")
def monthly(pipeline_run) -> pl.DataFrame:
    return read_table(
        pipeline_run, "select * from marts.kpi_orders_monthly order by month_start_date"
    )


def month_of(column: str) -> pl.Expr:
    return pl.col(column).dt.truncate("1mo").dt.date().alias("month_start_date")


@pytest.fixture(scope="module")
def recomputed(orders) -> pl.DataFrame:
    """The mart's columns, aggregated again in polars from fct_orders rows."""
    due = (
        orders.filter(pl.col("is_due"))
        .group_by(month_of("reference_window_end_at"))
        .agg(**{name: expr.cast(pl.Int64) for name, expr in DUE_COUNTS.items()})
    )
    delivered = (
        orders.filter(pl.col("is_delivered"))
        .group_by(month_of("delivered_at"))
        .agg(
            **{name: expr.cast(pl.Int64) for name, expr in DELIVERED_COUNTS.items()},
            **CYCLE_TIME,
        )
    )
    counts = [*DUE_COUNTS, *DELIVERED_COUNTS]
    return (
        due.join(delivered, on="month_start_date", how="full", coalesce=True)
        .with_columns(pl.col(counts).fill_null(0))
        .sort("month_start_date")
    )


def test_one_row_per_month_with_an_order_due_or_delivered(monthly, recomputed):
    assert monthly["month_start_date"].is_unique().all()
    assert monthly["month_start_date"].to_list() == recomputed["month_start_date"].to_list()
    assert monthly.height > 1


def test_every_monthly_numerator_and_denominator_equals_a_polars_recount(monthly, recomputed):
    counts = ["month_start_date", *DUE_COUNTS, *DELIVERED_COUNTS]
    mismatches = monthly.select(counts).join(recomputed.select(counts), on=counts, how="anti")
    assert mismatches.is_empty(), mismatches


def test_cycle_time_mean_p50_and_p90_equal_polars_linear_quantiles(monthly, recomputed):
    joined = monthly.join(recomputed, on="month_start_date", suffix="_polars")
    assert joined.height == monthly.height
    for name in CYCLE_TIME:
        mart, polars = joined[name], joined[f"{name}_polars"]
        assert (mart.is_null() == polars.is_null()).all(), name
        difference = (mart - polars).abs().drop_nulls()
        assert (difference < 1e-9).all(), (
            name,
            joined.select("month_start_date", name, f"{name}_polars"),
        )
    assert joined["cycle_time_days_p50"].drop_nulls().len() > 0


def test_monthly_totals_equal_the_counts_in_fct_orders(monthly, orders):
    assert monthly["orders_due"].sum() == orders.filter(pl.col("is_due")).height
    # perfect orders are counted over due orders: the numerator never exceeds its denominator
    assert (
        monthly["orders_perfect"].sum()
        == orders.filter(pl.col("is_due"), pl.col("is_perfect_order")).height
    )
    assert monthly["orders_delivered"].sum() == orders.filter(pl.col("is_delivered")).height
    assert (
        monthly["otif_numerator"].sum() == orders.filter(pl.col("is_due"))["otif_numerator"].sum()
    )
    components = [
        "orders_on_time",
        "orders_in_full",
        "orders_damage_free",
        "orders_documentation_accurate",
    ]
    for component in components:
        assert (monthly["orders_perfect"] <= monthly[component]).all(), component
        assert (monthly[component] <= monthly["orders_due"]).all(), component


def test_rates_are_only_numerator_over_denominator(monthly):
    pairs = {
        "perfect_order_rate": ("orders_perfect", "orders_due"),
        "otif_rate": ("otif_numerator", "otif_denominator"),
        "unit_fill_rate": ("units_filled", "units_ordered"),
        "line_fill_rate": ("lines_complete", "lines_total"),
        "order_fill_rate": ("orders_filled_on_first_shipment", "orders_due"),
        "split_shipment_ratio": ("orders_split_shipment", "orders_shipped"),
        "return_ratio": ("units_returned", "units_delivered"),
    }
    for rate, (numerator, denominator) in pairs.items():
        expected = monthly.select(
            pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))
        ).to_series()
        assert (monthly[rate].is_null() == expected.is_null()).all(), rate
        assert ((monthly[rate] - expected).abs().drop_nulls() < 1e-12).all(), rate
