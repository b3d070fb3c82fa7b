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
source = (
    "rpt_shipment_alerts"
    if "marts.rpt_shipment_alerts" in ui.tables()
    else f"fct_shipments (interim rules: stale after {data.STALE_HOURS} h without a carrier "
    "update; missed pickup = pickup window over and no pickup; customs hold = customs status "
    "not cleared)"
)
st.caption(
    f"Open shipments (not delivered, returned or cancelled) as of the snapshot's last carrier "
    f"update; sidebar filters except the period apply. Source: {source}."
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
        pl.col("order_value").cast(pl.Float64).sum().round(2).alias("value_at_risk"),
    )
    cols = st.columns(max(len(types), 1))
    for col, t in zip(cols, types):
        r = counts.filter(pl.col("alert_type") == t).row(0, named=True)
        col.metric(
            t.replace("_", " ").capitalize(),
            f"{r['alerts']:,}",
            help=f"Oldest {r['oldest_hours']:,.0f} h; goods value {r['value_at_risk']:,.0f} "
            "(order currencies).",
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
    shown = shown.sort(["order_value", "age_hours"], descending=True, nulls_last=True)
else:
    shown = shown.sort(["age_hours", "order_value"], descending=True, nulls_last=True)
st.markdown(f"**{shown.height:,} alerts** - open a shipment in the Shipment explorer by its id.")
ui.table(shown, "alerts", download="waybill_alerts.csv")
