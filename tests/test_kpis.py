"""kpi_orders_monthly and kpi_orders_daily recomputed with plain polars.

Uses the session's real pipeline run (``pipeline_run``: 1,500 orders, seed 7). The aggregation is
redone here without the project's SQL: orders due (``is_due``) are grouped by the calendar
period of their reference window end, orders delivered by the period of ``delivered_at``,
orders created by the period of ``created_at``; every numerator, denominator and cycle-time
statistic (with its three segments) must equal the mart's, and every period between the first
and the last must have a row. Percentiles use linear interpolation, the definition of SQL
``percentile_cont``. Throughput in (orders created per day) is also counted from the raw order
files read with polars, and the totals from the generator's manifest.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from tests.test_orders import read_order_files

pytestmark = pytest.mark.slow

#: mart -> (period column, polars truncation)
PERIODS = {
    "kpi_orders_monthly": ("month_start_date", "1mo"),
    "kpi_orders_daily": ("calendar_date", "1d"),
}

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
CREATED_COUNTS = {
    "orders_created": pl.len(),
    "units_created": pl.col("units_ordered").sum(),
}
SEGMENTS = [
    "cycle_time_days",
    "order_to_booked_days",
    "booked_to_picked_up_days",
    "picked_up_to_delivered_days",
]
STATISTICS = {"cycle_time_days_total": pl.col("cycle_time_days").sum()} | {
    f"{segment}_{name}": expr
    for segment in SEGMENTS
    for name, expr in {
        "mean": pl.col(segment).mean(),
        "p50": pl.col(segment).quantile(0.5, interpolation="linear"),
        "p90": pl.col(segment).quantile(0.9, interpolation="linear"),
    }.items()
}
COUNTS = [*DUE_COUNTS, *DELIVERED_COUNTS, *CREATED_COUNTS]


def read_table(pipeline_run, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(pipeline_run["settings"].warehouse), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def orders(pipeline_run) -> pl.DataFrame:
    return read_table(pipeline_run, "select * from marts.fct_orders")


@pytest.fixture(scope="module", params=list(PERIODS))
def period(request, pipeline_run, orders):
    """(mart name, key column, mart rows, the same columns recomputed in polars)."""
    mart = request.param
    key, every = PERIODS[mart]
    rows = read_table(pipeline_run, f"select * from marts.{mart} order by {key}")
    return mart, key, rows, recompute(orders, key, every)


def recompute(orders: pl.DataFrame, key: str, every: str) -> pl.DataFrame:
    """The mart's columns, aggregated again in polars from fct_orders rows, on a full spine."""

    def period_of(column: str) -> pl.Expr:
        return pl.col(column).dt.truncate(every).dt.date().alias(key)

    due = (
        orders.filter(pl.col("is_due"))
        .group_by(period_of("reference_window_end_at"))
        .agg(**{name: expr.cast(pl.Int64) for name, expr in DUE_COUNTS.items()})
    )
    delivered = (
        orders.filter(pl.col("is_delivered"))
        .group_by(period_of("delivered_at"))
        .agg(
            **{name: expr.cast(pl.Int64) for name, expr in DELIVERED_COUNTS.items()},
            **STATISTICS,
        )
    )
    created = (
        orders.filter(pl.col("created_at").is_not_null())
        .group_by(period_of("created_at"))
        .agg(**{name: expr.cast(pl.Int64) for name, expr in CREATED_COUNTS.items()})
    )
    periods = pl.concat([due[key], delivered[key], created[key]])
    spine = pl.DataFrame({key: pl.date_range(periods.min(), periods.max(), every, eager=True)})
    return (
        spine.join(due, on=key, how="left")
        .join(delivered, on=key, how="left")
        .join(created, on=key, how="left")
        .with_columns(pl.col(COUNTS).fill_null(0))
        .sort(key)
    )


def test_one_row_per_period_from_the_first_to_the_last_without_gaps(period):
    mart, key, rows, recomputed = period
    assert rows[key].is_unique().all()
    assert rows[key].to_list() == recomputed[key].to_list()
    assert rows.height > 1


def test_every_numerator_and_denominator_equals_a_polars_recount(period):
    mart, key, rows, recomputed = period
    columns = [key, *COUNTS]
    mismatches = rows.select(columns).join(recomputed.select(columns), on=columns, how="anti")
    assert mismatches.is_empty(), (mart, mismatches)


def test_cycle_time_and_segment_statistics_equal_polars_linear_quantiles(period):
    mart, key, rows, recomputed = period
    joined = rows.join(recomputed, on=key, suffix="_polars")
    assert joined.height == rows.height
    for name in STATISTICS:
        ours, polars = joined[name], joined[f"{name}_polars"]
        assert (ours.is_null() == polars.is_null()).all(), (mart, name)
        difference = (ours - polars).abs().drop_nulls()
        assert (difference < 1e-9).all(), (mart, joined.select(key, name, f"{name}_polars"))
    assert joined["booked_to_picked_up_days_p90"].drop_nulls().len() > 0


def test_daily_rows_sum_to_the_monthly_rows(pipeline_run):
    monthly = read_table(pipeline_run, "select * from marts.kpi_orders_monthly")
    daily = read_table(pipeline_run, "select * from marts.kpi_orders_daily")
    summed = (
        daily.group_by(pl.col("calendar_date").dt.truncate("1mo").alias("month_start_date"))
        .agg(pl.col(COUNTS).sum())
        .sort("month_start_date")
    )
    assert summed.select("month_start_date", *COUNTS).equals(
        monthly.sort("month_start_date").select("month_start_date", *COUNTS)
    )


def test_period_totals_equal_fct_orders_and_the_generator_manifest(pipeline_run, orders):
    truth = pipeline_run["manifest"]["orders"]
    for mart in PERIODS:
        rows = read_table(pipeline_run, f"select * from marts.{mart}")
        assert rows["orders_due"].sum() == orders.filter(pl.col("is_due")).height
        assert (
            rows["orders_perfect"].sum()
            == orders.filter(pl.col("is_due"), pl.col("is_perfect_order")).height
        )
        assert rows["orders_delivered"].sum() == truth["delivered"]
        assert rows["orders_created"].sum() == truth["orders"]
        assert rows["units_created"].sum() == truth["units_ordered"]
        components = [
            "orders_on_time",
            "orders_in_full",
            "orders_damage_free",
            "orders_documentation_accurate",
        ]
        for component in components:
            assert (rows["orders_perfect"] <= rows[component]).all(), component
            assert (rows[component] <= rows["orders_due"]).all(), component


def test_daily_throughput_in_equals_orders_counted_from_the_raw_order_files(pipeline_run):
    """Orders created per UTC day, counted from the four landing order files with polars."""
    lines = read_order_files(pipeline_run["settings"].landing / "orders")
    raw = (
        lines.group_by("order_id")
        .agg(pl.col("created_at").min())
        .group_by(pl.col("created_at").dt.convert_time_zone("UTC").dt.date().alias("calendar_date"))
        .agg(pl.len().cast(pl.Int64).alias("raw_orders"))
    )
    daily = read_table(
        pipeline_run, "select calendar_date, orders_created from marts.kpi_orders_daily"
    )
    joined = daily.join(raw, on="calendar_date", how="full", coalesce=True).with_columns(
        pl.col("orders_created", "raw_orders").fill_null(0)
    )
    assert joined.filter(pl.col("orders_created") != pl.col("raw_orders")).is_empty()
    assert joined["raw_orders"].sum() == 1500
    # the generator creates orders on every one of its 120 days from 4 July 2026
    created_days = joined.filter(pl.col("raw_orders") > 0)["calendar_date"]
    assert created_days.min() == date(2026, 7, 4)
    assert created_days.len() == 120


@pytest.mark.parametrize("mart", list(PERIODS))
def test_rates_are_only_numerator_over_denominator(pipeline_run, mart):
    rows = read_table(pipeline_run, f"select * from marts.{mart}")
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
        expected = rows.select(
            pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))
        ).to_series()
        assert (rows[rate].is_null() == expected.is_null()).all(), rate
        assert ((rows[rate] - expected).abs().drop_nulls() < 1e-12).all(), rate
