"""Carrier ranking by composite score with every component and volume, then one carrier."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, data, ui

st.title("Carrier scorecards")
ui.require_snapshot()
sc = ui.scope()
if sc.is_tenant:
    # The scorecard counts every customer's shipments: internal users only.
    st.info(
        "Carrier scorecards cover every customer's shipments and are for internal users. Your "
        "own shipments are in the Shipment explorer and under Exceptions and alerts."
    )
    st.stop()
ui.require_tables("marts.fct_shipments", "marts.rpt_carrier_scorecard", what="the scorecards")
f = ui.filters()

ranking = ui.call("carrier_ranking", f, scope=sc)
if ranking.height == 0:
    ui.no_match("shipments")
    st.stop()

weights = data.scorecard_weights()
st.caption(
    f"{ui.describe(f)}. From rpt_carrier_scorecard: a shipment counts in the month of its "
    "planned pickup, so the period selects whole months; rates are summed numerators over summed "
    "denominators, the score (0-100) weighs the components present with dbt var "
    "carrier_scorecard_weights ("
    + ", ".join(f"{k.replace('_', ' ')} {v:.0%}" for k, v in weights.items())
    + "). Volume is always shown: a high score on a handful of shipments is not a trend."
    + (
        " The customer filter does not apply (the scorecard is per carrier, lane and month)."
        if f.customers
        else ""
    )
)

c1, c2 = st.columns([2, 3])
c1.plotly_chart(charts.carrier_ranking(ranking), width="stretch")
rate_cols = [c for c in ranking.columns if c.endswith("_rate")]
money_cols = [c for c in ranking.columns if c in data.SCORECARD_MONEY]
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
        pl.col(c).cast(pl.Float64).round(2).alias(c.replace("_", " ").capitalize())
        for c in money_cols
    ],
    pl.col("transit_time_days_mean").cast(pl.Float64).round(2).alias("Transit days (mean)"),
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
if transit["stats"].height:
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

st.markdown(
    "**Invoice accuracy and cost per shipment / kg** (rpt_carrier_scorecard: a shipment's "
    "invoices count in the month of its planned pickup, like every other component)"
)
fin = ui.call("carrier_finance", carrier, f, scope=sc)
if fin is None:
    st.info(
        "Invoice accuracy and cost per kg need the scorecard's invoice columns "
        "(rpt_carrier_scorecard): run `waybill run` after upgrading."
    )
elif fin.height == 0:
    st.caption("No invoices for this carrier's shipments in the period.")
else:
    audited = int(fin["invoice_accuracy_denominator"].sum())
    accurate = int(fin["invoice_accuracy_numerator"].sum())
    payable = float(fin["payable_reporting_amount"].cast(pl.Float64).sum())
    ships = int(fin["shipments_invoiced"].sum())
    kg = float(fin["invoiced_gross_weight_kg"].cast(pl.Float64).sum())
    cur = fin["reporting_currency"].drop_nulls().first() or ""
    m = st.columns(3)
    m[0].metric(
        "Invoice accuracy",
        ui.pct(accurate / audited if audited else None),
        help=f"{accurate:,} of {audited:,} invoices matched or within tolerance.",
        border=True,
    )
    m[1].metric(
        f"Cost per shipment ({cur})",
        f"{payable / ships:,.2f}" if ships else "n/a",
        help=f"Payable invoices {payable:,.2f} over {ships:,} shipments invoiced.",
        border=True,
    )
    m[2].metric(
        f"Cost per kg ({cur})",
        f"{payable / kg:,.4f}" if kg else "n/a",
        help=f"Payable invoices over {kg:,.1f} kg gross weight of the shipments invoiced.",
        border=True,
    )
    ui.table(fin, "carrier_cost", f"{carrier}_scorecard_money.csv")
