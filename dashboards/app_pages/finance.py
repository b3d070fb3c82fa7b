"""Freight audit, AR/AP aging, margin and landed cost, with the finance exports to download."""

from __future__ import annotations

import io

import polars as pl
import streamlit as st

from dashboards import charts, ui

st.title("Finance and reconciliation")
ui.require_snapshot()
sc = ui.scope()
present = ui.call("finance_tables", scope=sc)
if not any(present.values()):
    if sc.is_tenant:
        st.info("No invoices have been published for your account yet.")
    else:
        st.info(
            "This page needs the finance marts (freight audit, AR/AP aging, margin, landed cost), "
            "which this snapshot does not have yet: run `waybill run` after upgrading waybill. "
            "The KPI, carrier and shipment pages work without them."
        )
    st.stop()
missing = [m for m, ok in present.items() if not ok]
if missing and not sc.is_tenant:
    st.caption("Not in this snapshot yet: " + ", ".join(missing))


def section(title: str, mart: str, status_title: str | None = None) -> None:
    if not present.get(mart):
        return
    st.subheader(title)
    if status_title:
        summary = ui.call("status_summary", mart, scope=sc)
        if summary is not None and summary.height:
            status = next(c for c in summary.columns if c not in ("carrier_code", "rows"))
            value = summary.columns[-1] if summary.columns[-1] != "rows" else "rows"
            st.plotly_chart(
                charts.status_bar(summary, status, value, status_title, value.replace("_", " ")),
                width="stretch",
            )
    ui.table(ui.call("mart", mart, scope=sc), f"fin_{mart}", download=f"{mart}.csv")


section(
    "Freight audit: invoices by status and carrier",
    "fct_freight_audit_invoices",
    "Invoices by audit status",
)
section("Freight audit lines", "fct_freight_audit_lines")
section("Receivables aging (AR)", "rpt_receivables_aging")
section("Payables aging (AP)", "rpt_payables_aging")
section("Margin by order", "fct_order_margin")
section("Carrier cost by month", "rpt_carrier_cost_monthly")
section("Landed cost lines", "fct_landed_cost_lines")

st.divider()
st.subheader("Exports")
st.caption(
    "The same reports `waybill export` writes to data/exports/, built from this snapshot"
    + (" (your rows only)." if sc.is_tenant else ".")
)
fmt = st.radio("Format", ["CSV", "XLSX", "Parquet"], horizontal=True, key="export_format")
frames = ui.call("export_frames", scope=sc)


def encode(df: pl.DataFrame, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "CSV":
        df.write_csv(buf)
    elif fmt == "XLSX":
        df.write_excel(buf, autofit=True)
    else:
        df.write_parquet(buf)
    return buf.getvalue()


ext = {"CSV": "csv", "XLSX": "xlsx", "Parquet": "parquet"}[fmt]
mime = {
    "CSV": "text/csv",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "Parquet": "application/octet-stream",
}[fmt]
cols = st.columns(3)
for i, (name, df) in enumerate(frames.items()):
    cols[i % 3].download_button(
        f"{name} ({df.height:,} rows)",
        encode(df, fmt),
        file_name=f"{name}.{ext}",
        mime=mime,
        key=f"export_{name}_{ext}",
    )
