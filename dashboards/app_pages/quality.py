"""What was loaded, what was quarantined and why, how fresh each feed is, the checks' history,
and when the snapshot was published."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, ui

st.title("Data quality")
ui.require_snapshot()
if ui.scope().is_tenant:
    st.info("Data quality is for internal users.")
    st.stop()
if "meta.load_log" not in ui.tables():
    st.info(f"The snapshot has no load log yet. {ui.RUN_HINT}.")
    st.stop()

info = ui.call("snapshot_info")
summary = ui.call("load_summary")
c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
c1.metric(
    "Snapshot published (UTC)",
    str(info["published_at"])[:16] if info else "unknown",
    help=f"Run {info['run_id']}" if info else None,
    border=True,
)
c2.metric("Rows loaded", f"{int(summary['rows_loaded'].sum() or 0):,}", border=True)
c3.metric("Rows quarantined", f"{int(summary['rows_quarantined'].sum() or 0):,}", border=True)
c4.metric("Unreadable files", f"{int(summary['failed_files'].sum() or 0):,}", border=True)

st.subheader("Check results")
blocked = ui.call("blocked_publication")
if blocked is not None:
    failed = blocked.filter(~blocked["passed"]) if "passed" in blocked.columns else blocked
    st.error(
        f"The last pipeline run's checks stopped publication ({failed.height:,} failed "
        "expectations): this snapshot is the previous good one. Details below."
    )
    ui.table(failed, "dq_blocked", download="dq_blocked.csv")
dq = ui.call("dq_results")
latest = ui.call("dq_latest")
history = ui.call("dq_history")
if dq is None:
    st.info(
        "No data-quality check results in this snapshot yet (meta.dq_results comes with the "
        "Great Expectations suites): run `waybill run` after upgrading."
    )
elif dq.height == 0:
    st.success("The checks ran and stored no results.")
else:
    if latest is not None:
        failed = latest.filter(~latest["passed"])
        n_failed = failed.height
        # Failed warn-severity checks that do not block publication are warnings, not errors.
        serious = pl.lit(True)
        if "severity" in failed.columns:
            serious = pl.col("severity").fill_null("error") != "warn"
            if "blocking" in failed.columns:
                serious = serious | pl.col("blocking").fill_null(False)
        serious = failed.filter(serious).height
        (st.error if serious else st.warning if n_failed else st.success)(
            f"Latest results: {latest.height - n_failed:,} of {latest.height:,} expectations "
            "pass" + (f", {n_failed:,} fail (listed first)." if n_failed else ".")
        )
        ui.table(latest, "dq_latest", download="dq_latest.csv", page_size=25)
    if history is not None and history.height:
        st.plotly_chart(charts.dq_history(history), width="stretch")
    with st.expander("Every stored result"):
        ui.table(dq, "dq_history", download="dq_results.csv")

if summary.height:
    st.subheader("Rows per feed")
    st.plotly_chart(charts.rows_by_feed(summary), width="stretch")
    st.subheader("Per feed")
    st.dataframe(summary, hide_index=True, width="stretch")
else:
    st.info("The snapshot has no loads yet: drop files into the landing zone and run the pipeline.")

st.subheader("Freshness per feed")
st.caption("When each feed last delivered a file, and how long before the snapshot was published.")
st.dataframe(ui.call("freshness"), hide_index=True, width="stretch")

st.subheader("Quarantine by feed and reason")
quarantine = ui.call("quarantine_by_reason")
if quarantine.height:
    st.plotly_chart(charts.quarantine_by_feed(quarantine), width="stretch")
    ui.table(quarantine, "quarantine", download="quarantine_by_reason.csv")
else:
    st.success("Nothing quarantined.")
failed = ui.call("failed_files")
if failed.height:
    st.subheader("Files skipped as unreadable")
    st.dataframe(failed, hide_index=True, width="stretch")

st.subheader("Load log")
ui.table(ui.call("load_log"), "load_log", download="load_log.csv")

with st.expander("Published tables"):
    st.dataframe(ui.call("published_tables"), hide_index=True, width="stretch")
