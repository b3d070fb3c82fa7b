"""What was loaded, what was quarantined and why, and when the snapshot was published."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, data


@st.cache_data(ttl=30, max_entries=8)
def _load(snapshot_mtime: float):
    return {
        "info": data.snapshot_info(),
        "summary": data.load_summary(),
        "quarantine": data.quarantine_by_reason(),
        "failed": data.failed_files(),
        "tables": data.published_tables(),
    }


st.title("Pipeline and data quality")
if not data.has_snapshot():
    st.info(
        "No published snapshot yet. Run `./dev demo` (or `waybill run` after dropping files into "
        f"the landing zone); the dashboard reads {data.snapshot_path()}."
    )
    st.stop()

d = _load(data.snapshot_path().stat().st_mtime)
info, summary = d["info"], d["summary"]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Snapshot published (UTC)", str(info["published_at"])[:19] if info else "unknown")
c2.metric("Rows loaded", f"{int(summary['rows_loaded'].sum() or 0):,}")
c3.metric("Rows quarantined", f"{int(summary['rows_quarantined'].sum() or 0):,}")
c4.metric("Unreadable files", f"{int(summary['failed_files'].sum() or 0):,}")

if summary.height:
    st.plotly_chart(charts.rows_by_feed(summary), width="stretch")
    st.subheader("Per feed")
    st.dataframe(summary, hide_index=True, width="stretch")
else:
    st.info("The snapshot has no loads yet: drop files into the landing zone and run the pipeline.")

st.subheader("Quarantine by reason")
if d["quarantine"].height:
    st.dataframe(d["quarantine"], hide_index=True, width="stretch")
else:
    st.success("Nothing quarantined.")
if d["failed"].height:
    st.subheader("Files skipped as unreadable")
    st.dataframe(d["failed"], hide_index=True, width="stretch")

with st.expander("Published tables"):
    st.dataframe(d["tables"], hide_index=True, width="stretch")
