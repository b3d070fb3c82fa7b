"""Plotly figures for the dashboard pages; each takes a polars frame and returns a figure."""

from __future__ import annotations

import plotly.express as px
import polars as pl


def rows_by_feed(summary: pl.DataFrame):
    long = summary.select(
        "feed",
        pl.col("rows_loaded").alias("Loaded"),
        pl.col("rows_quarantined").alias("Quarantined"),
    ).unpivot(index="feed", variable_name="outcome", value_name="rows")
    fig = px.bar(
        long.to_pandas(),
        x="feed",
        y="rows",
        color="outcome",
        barmode="stack",
        labels={"feed": "Feed", "rows": "Rows", "outcome": "Outcome"},
        title="Rows per feed: loaded vs quarantined",
        color_discrete_map={"Loaded": "#2E7D32", "Quarantined": "#C62828"},
        hover_data={"rows": ":,"},
    )
    fig.update_layout(legend_title_text="", xaxis_tickangle=-30)
    return fig
