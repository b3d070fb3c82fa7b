"""Carrier ranking by composite score with every component and volume, then one carrier."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, data, ui

st.title("Carrier scorecards")
ui.require_tables("marts.fct_shipments", what="the carrier scorecards")
f = ui.filters()
sc = ui.scope()

ranking = ui.call("carrier_ranking", f, scope=sc)
if ranking.height == 0:
    ui.no_match("shipments")
    st.stop()

source = (
    "rpt_carrier_scorecard"
    if "marts.rpt_carrier_scorecard" in ui.tables()
    else "fct_shipments (interim weights: "
    + ", ".join(f"{k.removesuffix('_rate')} {v:.0%}" for k, v in data.FALLBACK_WEIGHTS.items())
    + ")"
)
st.caption(
    f"{ui.describe(f)}. Shipments count in the period they were delivered (open ones by planned "
    f"delivery). Scores from {source}. Volume is always shown: a high score on a handful of "
    "shipments is not a trend."
)

c1, c2 = st.columns([2, 3])
c1.plotly_chart(charts.carrier_ranking(ranking), width="stretch")
rate_cols = [c for c in ranking.columns if c.endswith("_rate")]
shown = ranking.select(
    pl.col("carrier_code").alias("Carrier"),
    pl.col("carrier_name").alias("Name"),
    pl.col("shipments").alias("Shipments"),
    pl.col("composite_score").alias("Score"),
    *[
        (pl.col(c).cast(pl.Float64) * 100)
        .round(1)
        .alias(c.removesuffix("_rate").replace("_", " ").capitalize() + " %")
        for c in rate_cols
    ],
    *[
        pl.col(c).round(2).alias("Transit days (mean)")
        for c in ranking.columns
        if c == "transit_time_days_mean"
    ],
)
c2.dataframe(shown, hide_index=True, width="stretch", height=35 * (ranking.height + 1) + 3)
with st.expander("Numerators and denominators behind every rate"):
    st.dataframe(ranking, hide_index=True, width="stretch")

st.divider()
codes = ranking["carrier_code"].to_list()
if st.session_state.get("carrier_pick") not in codes:
    # Start with the busiest carrier: its charts say the most.
    st.session_state["carrier_pick"] = ranking.sort("shipments", descending=True)["carrier_code"][0]
carrier = st.pills("Carrier", codes, key="carrier_pick", selection_mode="single")
if not carrier:
    st.info("Pick a carrier above to see its on-time trend, transit times, lanes and exceptions.")
    st.stop()
row = ranking.filter(pl.col("carrier_code") == carrier).row(0, named=True)
st.subheader(f"{carrier} - {row.get('carrier_name') or ''}")
m = st.columns(5)
m[0].metric("Shipments", f"{row['shipments']:,}", border=True)
m[1].metric(
    "Composite score",
    "n/a" if row["composite_score"] is None else f"{row['composite_score']:.1f}",
    border=True,
)
m[2].metric("On-time pickup", ui.pct(row.get("on_time_pickup_rate")), border=True)
m[3].metric(
    "On-time delivery (controllable)",
    ui.pct(row.get("on_time_delivery_controllable_rate")),
    border=True,
)
m[4].metric("Exception rate", ui.pct(row.get("exception_rate")), border=True)

trend = ui.call("monthly_shipment_kpis", f, carrier, scope=sc)
transit = ui.call("carrier_transit_times", carrier, f, scope=sc)
lanes = ui.call("carrier_lane_matrix", carrier, f, scope=sc)
reasons = ui.call("exception_reasons", carrier, f, scope=sc)

c1, c2 = st.columns(2)
if trend.height:
    c1.plotly_chart(charts.carrier_on_time_trend(trend, carrier), width="stretch")
else:
    c1.info("No deliveries by this carrier in the period.")
if transit.height:
    c2.plotly_chart(charts.transit_box(transit, carrier), width="stretch")
else:
    c2.info("No completed transits (picked up and delivered) in the period.")
c1, c2 = st.columns(2)
if lanes.height:
    c1.plotly_chart(charts.lane_heatmap(lanes, carrier), width="stretch")
else:
    c1.info("No deliveries on any lane in the period.")
if reasons.height:
    c2.plotly_chart(
        charts.exception_reasons(reasons, f"{carrier}: exceptions by reason and responsible party"),
        width="stretch",
    )
else:
    c2.success("No exceptions reported for this carrier in the period.")

st.markdown("**Invoice accuracy and cost per kg**")
fin = ui.call("carrier_finance", carrier, f, scope=sc)
if fin is None:
    st.info(
        "Invoice accuracy and cost per kg need the finance marts (rpt_carrier_cost_monthly): "
        "run `waybill run` after upgrading."
    )
else:
    ui.table(fin["monthly"], "carrier_cost", f"{carrier}_cost_monthly.csv")
