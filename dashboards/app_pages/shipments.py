"""Find a shipment by order, shipment or tracking reference and see its whole timeline."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, data, ui

st.title("Shipment explorer")
ui.require_tables(
    "marts.fct_shipments",
    "marts.fct_shipment_events",
    "marts.fct_shipment_milestones",
    what="the shipment explorer",
)
sc = ui.scope()
f = ui.filters()

if "shipment" in st.query_params and "shipment_search" not in st.session_state:
    st.session_state["shipment_search"] = st.query_params["shipment"]
text = st.text_input(
    "Order, shipment, tracking number or carrier reference",
    key="shipment_search",
    placeholder="e.g. SO000001234, SHP000001234, 1Z..., MAEU123456",
)
use_filters = st.toggle(
    "Only shipments matching the sidebar filters (carrier, lane, mode, customer)",
    value=False,
    key="shipment_use_filters",
)
if not text.strip():
    st.info(
        "Type part of an order id, shipment id, tracking number or carrier booking reference. "
        "Searches ignore the period filter: any shipment in the snapshot can be found."
    )
    st.stop()

search_f = data.Filters(customers=f.customers, carriers=f.carriers, lanes=f.lanes, modes=f.modes)
hits = ui.call("search_shipments", text, search_f if use_filters else data.NO_FILTERS, scope=sc)
if hits.height == 0:
    st.warning(
        f"No shipment matches '{text.strip()}'"
        + (" under the sidebar filters; switch the filter toggle off" if use_filters else "")
        + ". Check the reference, or search for part of it."
    )
    st.stop()

st.caption(f"{hits.height:,} shipment(s) match" + (" (first 200)" if hits.height >= 200 else ""))
ids = hits["shipment_id"].to_list()
if st.session_state.get("shipment_pick") not in ids:
    st.session_state["shipment_pick"] = ids[0]
if hits.height > 1:
    ui.table(hits, "shipment_hits", page_size=10)
shipment_id = st.selectbox(
    "Shipment",
    ids,
    key="shipment_pick",
    format_func=lambda s: (
        lambda r: f"{s} - {r['carrier_code']} {r['tracking_number'] or ''} - {r['current_status']}"
    )(hits.row(ids.index(s), named=True)),
)

head = ui.call("shipment_header", shipment_id, scope=sc)
milestones = ui.call("shipment_milestones", shipment_id, scope=sc)
events = ui.call("shipment_events", shipment_id, scope=sc)
orders = ui.call("shipment_orders", shipment_id, scope=sc)

st.subheader(f"{shipment_id}: {head['carrier_name'] or head['carrier_code']}, {head['lane']}")
on_time = head["is_delivered_on_time"]
delivery = (
    ":green-badge[on time]"
    if on_time
    else (":red-badge[late]" if on_time is False else ":blue-badge[open]")
)


def _at(value) -> str:
    return f"{value:%d %b %Y %H:%M}" if value else "-"


facts = [
    ("Status", f"**{head['current_status'] or '-'}** since {_at(head['current_status_at'])}"),
    ("Mode / service", f"**{head['transport_mode']}** / {head['service_level'] or '-'}"),
    ("Tracking", f"`{head['tracking_number'] or '-'}`"),
    (
        "Delivery (UTC)",
        f"{delivery} planned by {_at(head['planned_delivery_end_at'])}, "
        f"delivered {_at(head['delivered_at'])}",
    ),
    ("Transit", f"**{head['transit_time_days']:.1f} days**" if head["transit_time_days"] else "-"),
    ("Exceptions", f"**{head['exception_count']:,}**"),
]
cols = st.columns([1, 1, 1, 2, 1, 1], border=True)
for col, (label, value) in zip(cols, facts, strict=True):
    col.caption(label)
    col.markdown(value)
if head["exception_count"]:
    st.error(
        f"Exceptions on this shipment: {head['exception_types'] or 'unspecified'}"
        + (
            f"; late delivery attributed to {head['late_delivery_responsible_party']}"
            if head["late_delivery_responsible_party"]
            else ""
        )
    )

if milestones.height or events.height:
    st.plotly_chart(charts.shipment_timeline(milestones, events, head), width="stretch")
else:
    st.info("No milestones or carrier events for this shipment yet.")

c1, c2 = st.columns([3, 2])
c1.markdown("**Milestones: planned, latest estimate and actual (UTC)**")
c1.dataframe(milestones, hide_index=True, width="stretch")
c2.markdown("**Orders on this shipment**")
c2.dataframe(orders, hide_index=True, width="stretch")

st.markdown("**Raw carrier events with their source codes (exceptions highlighted)**")
if events.height:
    shown = events.with_columns(pl.col("source_file_name").str.replace(r"^(.*/)?landing/", ""))

    def _highlight(row):
        color = "background-color: #FDECEA" if row["is_exception"] else ""
        return [color] * len(row)

    st.dataframe(
        shown.to_pandas().style.apply(_highlight, axis=1), hide_index=True, width="stretch"
    )
else:
    st.caption("No carrier events received for this shipment.")
