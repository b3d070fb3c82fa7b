"""Read-only SQL over the published snapshot, with the marts' documentation beside the editor."""

from __future__ import annotations

import io

import duckdb
import polars as pl
import streamlit as st

from dashboards import data, ui

TIMEOUT_S = 15.0
MAX_ROWS = 100_000
EXAMPLE = """select carrier_code, count(*) as shipments,
       avg(transit_time_days) as transit_days_mean
from marts.fct_shipments
group by carrier_code
order by shipments desc"""

st.title("SQL workbench")
ui.require_snapshot()
sc = ui.scope()
st.caption(
    f"One SELECT (or WITH ... SELECT) at a time over the published snapshot, read-only, no file "
    f"access; queries stop after {TIMEOUT_S:g} s and return at most {MAX_ROWS:,} rows."
    + (" You see your own orders, shipments and invoices only." if sc.is_tenant else "")
)

left, right = st.columns([3, 2])
with right:
    st.markdown("**Tables and columns**")
    docs = ui.call("catalog", scope=sc)
    if docs.height == 0:
        st.info(f"The snapshot has no tables yet. {ui.RUN_HINT}.")
    else:
        names = (
            docs.select((pl.col("schema") + "." + pl.col("table_name")).alias("name"))
            .unique(maintain_order=True)["name"]
            .to_list()
        )
        default = "marts.fct_orders" if "marts.fct_orders" in names else names[0]
        table = st.selectbox("Table", names, index=names.index(default), key="wb_table")
        schema, name = table.split(".", 1)
        cols = docs.filter((pl.col("schema") == schema) & (pl.col("table_name") == name))
        description = cols["table_description"][0]
        if description:
            first, _, rest = description.partition(". ")
            st.caption(first.rstrip(".") + ".")
            if rest:
                with st.expander("More about this table"):
                    st.caption(rest)
        else:
            st.caption("No description in the dbt project for this table.")
        st.dataframe(
            cols.select("column_name", "data_type", "column_description"),
            hide_index=True,
            width="stretch",
            height=420,
            column_config={
                "column_name": st.column_config.TextColumn("Column", width="small"),
                "data_type": st.column_config.TextColumn("Type", width="small"),
                "column_description": st.column_config.TextColumn("Description", width="large"),
            },
        )

with left:
    with st.form("wb_form"):
        sql = st.text_area("SQL", value=EXAMPLE, height=220, key="wb_sql")
        run = st.form_submit_button("Run query", type="primary", key="wb_run")
    if run:
        try:
            result, truncated = data.run_sql(sql, scope=sc, timeout_s=TIMEOUT_S, max_rows=MAX_ROWS)
            st.session_state["wb_result"] = (result, truncated, None)
        except (data.RefusedQuery, data.QueryTimeout, duckdb.Error) as exc:
            st.session_state["wb_result"] = (None, False, str(exc).split("\n")[0])
        except Exception as exc:  # noqa: BLE001 - a query's failure is one line, never a trace
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            st.session_state["wb_result"] = (
                None,
                False,
                f"the result could not be shown ({type(exc).__name__}: {first})",
            )
    if "wb_result" in st.session_state:
        result, truncated, error = st.session_state["wb_result"]
        if error:
            st.error(error)
        elif result is not None:
            st.caption(
                f"{result.height:,} rows"
                + (f" (stopped at {MAX_ROWS:,}: add a LIMIT or aggregate)" if truncated else "")
            )
            ui.table(result, "wb_rows", download="query_result.csv")
            if result.height:
                buf = io.BytesIO()
                result.write_parquet(buf)
                st.download_button(
                    "Download as Parquet",
                    buf.getvalue(),
                    file_name="query_result.parquet",
                    mime="application/octet-stream",
                    key="wb_parquet",
                )
