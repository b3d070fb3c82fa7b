"""Open exceptions, stale shipments, missed pickups and customs holds, oldest first."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, data, ui

st.title("Exceptions and alerts")
ui.require_tables("marts.fct_shipments", "marts.fct_orders", what="the alerts")
f = ui.filters()
sc = ui.scope()
# Alerts are about what is open now: the period filter does not apply, the others do.
open_f = data.Filters(customers=f.customers, carriers=f.carriers, lanes=f.lanes, modes=f.modes)
alerts = ui.call("alerts", open_f, scope=sc)
if alerts is None:
    ui.require_tables("marts.rpt_shipment_alerts", what="the alerts")
as_of = alerts["as_of_at"].max() if alerts.height else None
st.caption(
    "Open alerts from rpt_shipment_alerts (open exceptions, stale shipments, missed pickups, "
    "customs holds; rules and thresholds in docs/kpis.md)"
    + (f" as of {as_of:%Y-%m-%d %H:%M} UTC" if as_of else "")
    + "; sidebar filters except the period apply."
)
if alerts.height == 0:
    if any((f.customers, f.carriers, f.lanes, f.modes)):
        ui.no_match("open alerts")
    else:
        st.success("No open alerts: every shipment is delivered or moving on schedule.")
    st.stop()

types = sorted(alerts["alert_type"].unique().to_list())
c1, c2 = st.columns([1, 2])
c1.plotly_chart(charts.alerts_by_type(alerts), width="stretch")
with c2:
    counts = alerts.group_by("alert_type").agg(
        pl.len().alias("alerts"),
        pl.col("age_hours").max().alias("oldest_hours"),
        pl.col("goods_value_reporting_amount")
        .cast(pl.Float64)
        .sum()
        .round(2)
        .alias("value_at_risk"),
        pl.col("goods_value_reporting_amount").is_null().sum().alias("unvalued"),
    )
    currency = alerts["reporting_currency"].drop_nulls().first() or "reporting currency"
    cols = st.columns(max(len(types), 1))
    for col, t in zip(cols, types):
        r = counts.filter(pl.col("alert_type") == t).row(0, named=True)
        col.metric(
            t.replace("_", " ").capitalize(),
            f"{r['alerts']:,}",
            help=f"Oldest {r['oldest_hours'] or 0:,.0f} h; goods value "
            f"{r['value_at_risk'] or 0:,.0f} {currency} at the as-of date's ECB rate"
            + (
                f" ({r['unvalued']:,} without a value: no order, mixed currencies or no rate)."
                if r["unvalued"]
                else "."
            ),
            border=True,
        )
    chosen = st.multiselect("Alert types", types, default=types, key="alert_types")
    sort = st.radio(
        "Sort by",
        ["Age (oldest first)", "Goods value (highest first)"],
        horizontal=True,
        key="alert_sort",
    )

shown = alerts.filter(pl.col("alert_type").is_in(chosen))
if sort.startswith("Goods"):
    shown = shown.sort(
        ["goods_value_reporting_amount", "age_hours"], descending=True, nulls_last=True
    )
else:
    shown = shown.sort(
        ["age_hours", "goods_value_reporting_amount"], descending=True, nulls_last=True
    )
st.markdown(f"**{shown.height:,} alerts** - open a shipment in the Shipment explorer by its id.")
ui.table(shown.drop("as_of_at"), "alerts", download="waybill_alerts.csv")
