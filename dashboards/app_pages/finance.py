"""Freight audit, AR/AP aging, margin and landed cost from the finance marts as published, with
the reports `waybill export` writes to download."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, data, ui

st.title("Finance and reconciliation")
ui.require_snapshot()
f = ui.filters()
sc = ui.scope()
rows = ui.call("finance_tables", scope=sc)
present = {m: bool(n) for m, n in rows.items()}
if all(n is None for n in rows.values()) or (sc.is_tenant and not any(present.values())):
    if sc.is_tenant:
        st.info("No invoices have been published for your account yet.")
    else:
        st.info(
            "This page needs the finance marts (freight audit, AR/AP aging, margin, landed cost), "
            "which this snapshot does not have yet: run `waybill run` after upgrading waybill. "
            "The KPI, carrier and shipment pages work without them."
        )
    st.stop()
if not any(present.values()):
    st.info(
        "The finance marts are published but empty: this data set has no carrier invoices, "
        "customer invoices or landed costs (e.g. nycflights13, flights only). Load invoice and "
        "order feeds to fill them."
    )
    st.stop()
missing = [m for m, n in rows.items() if n is None]
empty = [m for m, n in rows.items() if n == 0]
if missing and not sc.is_tenant:
    st.caption("Not in this snapshot: " + ", ".join(missing))
if empty and not sc.is_tenant:
    st.caption("Empty in this data set: " + ", ".join(empty))
st.caption(
    "Sidebar filters apply: the period to each document's own date (carrier invoice date, "
    "order date, goods receipt date; not to the agings, which show what is open now), customer, "
    "carrier, mode and lane to the document's own columns or through its shipment or order "
    "(docs/dashboard.md). Amounts in the reporting currency (ECB rates at the document date, "
    "docs/finance.md)."
)


def money(v) -> str:
    """Whole units on a tile (cents in the tables and the tooltip)."""
    return "-" if v is None else f"{float(v):,.0f}"


def currency_of(df: pl.DataFrame) -> str:
    if "reporting_currency" not in df.columns or df.height == 0:
        return ""
    values = df["reporting_currency"].drop_nulls().unique().to_list()
    return values[0] if len(values) == 1 else ""


def amounts(df: pl.DataFrame) -> pl.DataFrame:
    """Money columns as floats rounded to the cent for display."""
    return df.with_columns(pl.col(c).cast(pl.Float64).round(2) for c in df.columns if "amount" in c)


audit = None
if present.get("fct_freight_audit_invoices"):
    st.subheader("Freight audit: carrier invoices by status")
    audit = ui.call("freight_audit_by_status", scope=sc, f=f)
    if audit.height == 0:
        ui.no_match("carrier invoices")
if audit is not None and audit.height:
    cur = currency_of(audit)
    total_invoiced = audit["invoiced_reporting_amount"].cast(pl.Float64).sum()
    flagged = audit.filter(~pl.col("invoice_status").is_in(["MATCHED", "WITHIN_TOLERANCE"]))
    m = st.columns(4)
    m[0].metric("Invoices audited", f"{audit['invoices'].sum():,}", border=True)
    m[1].metric(
        f"Invoiced ({cur})", money(total_invoiced), help=f"{total_invoiced:,.2f}", border=True
    )
    m[2].metric("Invoices flagged", f"{flagged['invoices'].sum():,}", border=True)
    m[3].metric(
        f"Variance flagged ({cur})",
        money(flagged["variance_reporting_amount"].cast(pl.Float64).sum()),
        help="Invoiced minus expected on invoices not MATCHED or WITHIN_TOLERANCE.",
        border=True,
    )
    by_carrier = ui.call("freight_audit_by_status", scope=sc, by_carrier=True, f=f)
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(
        charts.status_bar(by_carrier, "invoice_status", "invoices", "Invoices by audit status"),
        width="stretch",
    )
    with c2:
        st.dataframe(amounts(audit), hide_index=True, width="stretch", key="fin_audit_status")
    with st.expander("Invoices per carrier and status; audit lines"):
        ui.table(amounts(by_carrier), "fin_audit_carrier", "freight_audit_by_carrier.csv")
        if present.get("fct_freight_audit_lines"):
            lines, n_lines = ui.call("freight_audit_lines", f, scope=sc)
            st.caption(
                f"Audit lines, flagged first: {lines.height:,} of {n_lines:,} shown; every "
                "flagged line is in the freight-audit-exceptions export below."
            )
            ui.table(lines, "fin_audit_lines", "fct_freight_audit_lines.csv")


def aging_block(df: pl.DataFrame, title: str, amount: str, chart_title: str, key: str, **kw):
    """One aging chart and its table, or the no-match note."""
    st.markdown(f"**{title} ({currency_of(df)})**")
    if df.height == 0:
        ui.no_match("documents")
        return
    shown = df.filter(pl.col("aging_bucket").is_not_null())
    st.plotly_chart(
        charts.status_bar(
            shown.with_columns(pl.col(amount).cast(pl.Float64)),
            "aging_bucket",
            amount,
            chart_title,
            amount.removesuffix("_reporting_amount").replace("_", " ") + " amount",
            **kw,
        ),
        width="stretch",
    )
    st.dataframe(amounts(df), hide_index=True, width="stretch", key=key)


if present.get("rpt_receivables_aging") or present.get("rpt_payables_aging"):
    st.subheader("Aging")
    c1, c2 = st.columns(2)
    if present.get("rpt_receivables_aging"):
        with c1:
            aging_block(
                ui.call("receivables_aging", scope=sc, f=f),
                "Receivables (AR), open amount by bucket",
                "open_reporting_amount",
                "AR open by aging bucket",
                "fin_ar",
            )
    if present.get("rpt_payables_aging") and not sc.is_tenant:
        with c2:
            aging_block(
                ui.call("payables_aging", scope=sc, f=f),
                "Payables (AP), invoiced by bucket and status",
                "invoiced_reporting_amount",
                "AP invoiced by aging bucket",
                "fin_ap",
                color="payable_status",
            )

total = None
if present.get("fct_order_margin"):
    st.subheader("Margin")
    total = ui.call("margin_by", None, scope=sc, f=f).row(0, named=True)
    if not total["orders"]:
        ui.no_match("orders with a margin")
if total and total["orders"]:
    cur = total.get("reporting_currency") or ""
    m = st.columns(4)
    m[0].metric("Orders", f"{total['orders']:,}", border=True)
    m[1].metric(
        f"Net revenue ({cur})",
        money(total["net_revenue_reporting_amount"]),
        help=f"{float(total['net_revenue_reporting_amount'] or 0):,.2f}",
        border=True,
    )
    m[2].metric(
        f"Contribution margin ({cur})",
        money(total["contribution_margin_reporting_amount"]),
        help=f"{float(total['contribution_margin_reporting_amount'] or 0):,.2f}",
        border=True,
    )
    m[3].metric(
        "Margin %",
        ui.pct(total["contribution_margin_rate"]),
        help=f"Contribution margin / net revenue; {total['provisional_orders']:,} orders are "
        "provisional (freight not invoiced yet, estimated from the rate card).",
        border=True,
    )
    note = ui.goods_at_price_note(total["goods_cost_estimated_orders"], total["orders"])
    if note:
        st.warning(note)
    c1, c2 = st.columns(2)
    for col, dim, label in ((c1, "customer_id", "customer"), (c2, "lane", "lane")):
        by = ui.call("margin_by", dim, scope=sc, f=f)
        with col:
            st.markdown(f"**Margin by {label}** (lowest first)")
            ui.table(amounts(by), f"fin_margin_{dim}", f"margin_by_{dim}.csv", page_size=15)

if present.get("fct_landed_cost_lines"):
    st.subheader("Landed cost by component and Incoterm")
    landed = ui.call("landed_cost_breakdown", scope=sc, f=f)
    if landed.height == 0:
        ui.no_match("order lines with a landed cost")
    else:
        st.plotly_chart(
            charts.status_bar(
                landed.with_columns(pl.col("reporting_amount").cast(pl.Float64)),
                "incoterm",
                "reporting_amount",
                "Landed cost components by Incoterm",
                "amount",
                color="component",
            ),
            width="stretch",
        )

if present.get("rpt_carrier_cost_monthly"):
    unfiltered = ui.call("finance_unfiltered", "rpt_carrier_cost_monthly", f, scope=sc)
    label = "Carrier cost by month (rpt_carrier_cost_monthly)"
    if unfiltered:
        label += f"; per carrier, so the {' and '.join(unfiltered)} filter does not apply"
    with st.expander(label):
        ui.table(
            ui.call("mart", "rpt_carrier_cost_monthly", scope=sc, f=f),
            "fin_carrier_cost",
            "rpt_carrier_cost_monthly.csv",
        )

st.divider()
st.subheader("Exports")
st.caption(
    "The reports `waybill export` writes to data/exports/, built from this snapshot"
    + (" (your rows only)" if sc.is_tenant else "")
    + "; the whole report, not the filters above (the CLI takes --from, --to, --carrier and "
    "--customer)."
    + " The XLSX has the same summary sheet (filters, row count, money totals, rows per status)."
)
fmt = st.radio("Format", ["CSV", "XLSX", "Parquet"], horizontal=True, key="export_format")
ext = fmt.lower()
mime = {
    "CSV": "text/csv",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "Parquet": "application/octet-stream",
}[fmt]
counts = ui.call("export_counts", scope=sc)
cols = st.columns(3)
for i, (name, n) in enumerate(counts.items()):
    cols[i % 3].download_button(
        f"{name} ({n:,} rows)",
        # built when clicked (a large report is not read on every page view)
        lambda name=name: data.export_bytes(name, ext, scope=sc),
        file_name=f"{name}.{ext}",
        mime=mime,
        key=f"export_{name}_{ext}",
    )
