"""Plotly figures for the dashboard pages; each takes a polars frame and returns a figure.

Every figure has axis titles with units and hover text that names what a point is.
"""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

GOOD = "#2E7D32"
BAD = "#C62828"
NEUTRAL = "#1565C0"
MUTED = "#90A4AE"
PARTY_COLORS = {
    "CARRIER": "#C62828",
    "SHIPPER": "#EF6C00",
    "CONSIGNEE": "#F9A825",
    "CUSTOMS": "#6A1B9A",
    "FORCE_MAJEURE": "#455A64",
    "UNKNOWN": "#90A4AE",
}


def _layout(fig: go.Figure, height: int = 360) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend_title_text="",
        hoverlabel={"namelength": -1},
    )
    return fig


def rows_by_feed(summary: pl.DataFrame) -> go.Figure:
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
        color_discrete_map={"Loaded": GOOD, "Quarantined": BAD},
        hover_data={"rows": ":,"},
    )
    fig.update_layout(xaxis_tickangle=-30)
    return _layout(fig)


def sparkline(months: pl.DataFrame, column: str, percent: bool, label: str) -> go.Figure:
    """A small monthly trend under a KPI tile."""
    df = months.filter(pl.col(column).is_not_null())
    y = (df[column].cast(pl.Float64) * (100 if percent else 1)).to_list()
    unit = "%" if percent else " days"
    fig = go.Figure(
        go.Scatter(
            x=df["month_start_date"].to_list(),
            y=y,
            mode="lines+markers",
            line={"color": NEUTRAL, "width": 2},
            hovertemplate=f"%{{x|%b %Y}}<br>{label}: %{{y:.1f}}{unit}<extra></extra>",
        )
    )
    fig.update_layout(
        height=90,
        margin={"l": 0, "r": 0, "t": 4, "b": 0},
        xaxis={"visible": False},
        yaxis={"visible": False},
        showlegend=False,
    )
    return fig


def monthly_rates(months: pl.DataFrame, series: dict[str, str], title: str) -> go.Figure:
    """Monthly rates (fractions) as % lines; ``series`` maps column -> legend label."""
    fig = go.Figure()
    for column, label in series.items():
        if column not in months.columns:
            continue
        df = months.filter(pl.col(column).is_not_null())
        fig.add_trace(
            go.Scatter(
                x=df["month_start_date"].to_list(),
                y=(df[column].cast(pl.Float64) * 100).to_list(),
                mode="lines+markers",
                name=label,
                hovertemplate=f"%{{x|%b %Y}}<br>{label}: %{{y:.1f}} %<extra></extra>",
            )
        )
    fig.update_layout(title=title, xaxis_title="Month", yaxis_title="Share (%)")
    fig.update_yaxes(rangemode="tozero", ticksuffix=" %")
    return _layout(fig)


def cycle_time_trend(months: pl.DataFrame) -> go.Figure:
    fig = go.Figure()
    for column, label, dash in (
        ("cycle_time_days_mean", "Mean", "solid"),
        ("cycle_time_days_p50", "Median (P50)", "dot"),
        ("cycle_time_days_p90", "P90", "dash"),
    ):
        df = months.filter(pl.col(column).is_not_null())
        fig.add_trace(
            go.Scatter(
                x=df["month_start_date"].to_list(),
                y=df[column].to_list(),
                name=label,
                mode="lines+markers",
                line={"dash": dash},
                hovertemplate=f"%{{x|%b %Y}}<br>{label}: %{{y:.2f}} days<extra></extra>",
            )
        )
    fig.update_layout(
        title="Order cycle time by delivery month (created -> delivered)",
        xaxis_title="Delivery month",
        yaxis_title="Cycle time (days)",
    )
    return _layout(fig)


def components_bar(components: dict[str, tuple[int, int]], title: str) -> go.Figure:
    """Horizontal bars of component rates; values are (numerator, denominator)."""
    labels = list(components)
    rates = [100 * n / d if d else None for n, d in components.values()]
    text = [f"{n:,} of {d:,}" for n, d in components.values()]
    fig = go.Figure(
        go.Bar(
            x=rates,
            y=labels,
            orientation="h",
            marker_color=NEUTRAL,
            text=[f"{r:.1f} %" if r is not None else "n/a" for r in rates],
            textposition="auto",
            customdata=text,
            hovertemplate="%{y}: %{x:.1f} %<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title="Share of orders (%)", yaxis_title="")
    fig.update_xaxes(range=[0, 100], ticksuffix=" %")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=60 + 45 * len(labels))


def segments_bar(kpis: dict) -> go.Figure:
    segs = {
        "Order -> booked": kpis.get("order_to_booked_days_mean"),
        "Booked -> picked up": kpis.get("booked_to_picked_up_days_mean"),
        "Picked up -> delivered": kpis.get("picked_up_to_delivered_days_mean"),
    }
    fig = go.Figure()
    for name, value in segs.items():
        fig.add_trace(
            go.Bar(
                x=[value or 0],
                y=["Mean cycle time"],
                name=name,
                orientation="h",
                hovertemplate=f"{name}: %{{x:.2f}} days<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Where the time goes (mean days per segment)",
        xaxis_title="Days",
        yaxis_title="",
    )
    return _layout(fig, height=200)


def party_bar(df: pl.DataFrame, value: str, title: str, axis: str) -> go.Figure:
    fig = px.bar(
        df.to_pandas(),
        x=value,
        y="responsible_party",
        orientation="h",
        color="responsible_party",
        color_discrete_map=PARTY_COLORS,
        labels={value: axis, "responsible_party": "Responsible party"},
        title=title,
        hover_data={value: ":,"},
    )
    fig.update_layout(showlegend=False)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=80 + 40 * max(df.height, 1))


def carrier_ranking(df: pl.DataFrame) -> go.Figure:
    """Composite score per carrier with volume as the bar's label (volume is always shown)."""
    d = df.filter(pl.col("composite_score").is_not_null()).sort("composite_score")
    labels = [
        f"{c} ({n:,} shipments)" for c, n in zip(d["carrier_code"], d["shipments"], strict=False)
    ]
    fig = go.Figure(
        go.Bar(
            x=d["composite_score"].to_list(),
            y=labels,
            orientation="h",
            marker={
                "color": d["composite_score"].to_list(),
                "colorscale": "RdYlGn",
                "cmin": 50,
                "cmax": 100,
            },
            text=[f"{s:.1f}" for s in d["composite_score"]],
            textposition="auto",
            customdata=d.select("carrier_name", "shipments").rows(),
            hovertemplate=(
                "%{customdata[0]}<br>composite score %{x:.1f} / 100"
                "<br>%{customdata[1]:,} shipments<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title="Composite score (0-100, weighted components)",
        xaxis_title="Composite score (0-100)",
        yaxis_title="",
    )
    fig.update_xaxes(range=[0, 100])
    return _layout(fig, height=80 + 32 * max(d.height, 1))


def carrier_on_time_trend(months: pl.DataFrame, carrier: str) -> go.Figure:
    fig = monthly_rates(
        months,
        {
            "on_time_delivery_rate": "On-time delivery (gross)",
            "on_time_delivery_controllable_rate": "On-time delivery (carrier-controllable)",
        },
        f"{carrier}: on-time delivery by delivery month",
    )
    fig.add_trace(
        go.Bar(
            x=months["month_start_date"].to_list(),
            y=months["shipments_delivered"].to_list(),
            name="Shipments delivered",
            yaxis="y2",
            marker_color=MUTED,
            opacity=0.35,
            hovertemplate="%{x|%b %Y}<br>%{y:,} shipments delivered<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis2={
            "title": "Shipments delivered",
            "overlaying": "y",
            "side": "right",
            "tickformat": ",d",
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def transit_box(transit: dict[str, pl.DataFrame], carrier: str) -> go.Figure:
    """A box per mode from pre-aggregated quartiles and fences, with the listed outliers as
    points (``data.carrier_transit_times``)."""
    stats, outliers = transit["stats"], transit["outliers"]
    fig = go.Figure()
    for row in stats.iter_rows(named=True):
        mode = row["transport_mode"]
        fig.add_trace(
            go.Box(
                x=[mode],
                q1=[row["q1"]],
                median=[row["median"]],
                q3=[row["q3"]],
                lowerfence=[row["lower_fence"]],
                upperfence=[row["upper_fence"]],
                mean=[row["mean"]],
                name=f"{mode} ({row['shipments']:,} shipments)",
                boxpoints=False,
                boxmean=True,
                marker_color=NEUTRAL,
                hoverinfo="y+name",
            )
        )
        points = outliers.filter(pl.col("transport_mode") == mode)
        if points.height:
            shown = "" if points.height == row["outliers"] else f", {points.height:,} most extreme"
            fig.add_trace(
                go.Scatter(
                    x=points["transport_mode"].to_list(),
                    y=points["transit_time_days"].to_list(),
                    mode="markers",
                    marker={"color": BAD, "size": 5, "opacity": 0.6},
                    name=f"{mode}: outliers ({row['outliers']:,}{shown})",
                    customdata=points.select("shipment_id", "lane", "service_level").rows(),
                    hovertemplate=(
                        "Shipment %{customdata[0]}<br>Lane %{customdata[1]}<br>"
                        "Service %{customdata[2]}<br>Transit %{y:.2f} days<extra></extra>"
                    ),
                )
            )
    fig.update_layout(
        title=f"{carrier}: transit-time distribution",
        xaxis_title="Mode",
        yaxis_title="Transit time (days, picked up -> delivered)",
        legend={"orientation": "h", "y": -0.2},
    )
    return _layout(fig)


def lane_heatmap(df: pl.DataFrame, carrier: str) -> go.Figure:
    level = df["level"][0] if "level" in df.columns and df.height else "country"
    dest_order = sorted(df["destination"].unique().to_list())
    pivot = (
        df.pivot(on="destination", index="origin", values="on_time_delivery_rate")
        .sort("origin")
        .select("origin", *dest_order)
    )
    volume = (
        df.pivot(on="destination", index="origin", values="shipments_delivered")
        .sort("origin")
        .select("origin", *dest_order)
    )
    dests = dest_order
    z = [[None if v is None else 100 * v for v in row] for row in pivot.select(dests).rows()]
    n = [[0 if v is None else v for v in row] for row in volume.select(dests).rows()]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=dests,
            y=pivot["origin"].to_list(),
            customdata=n,
            # The volume in every cell: a red cell of one shipment is not a red lane.
            text=[[f"{v:,}" if v else "" for v in row] for row in n],
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmin=50,
            zmax=100,
            colorbar={"title": "On time (%)"},
            hovertemplate=(
                "%{y} -> %{x}<br>on time %{z:.1f} %<br>%{customdata:,} shipments delivered"
                "<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title=f"{carrier}: on-time delivery by lane (origin -> destination {level})",
        xaxis_title=f"Destination {level}",
        yaxis_title=f"Origin {level}",
    )
    return _layout(fig, height=max(300, 60 + 30 * pivot.height))


def exception_reasons(df: pl.DataFrame, title: str) -> go.Figure:
    fig = px.bar(
        df.to_pandas(),
        x="events",
        y="exception_type",
        color="responsible_party",
        orientation="h",
        color_discrete_map=PARTY_COLORS,
        hover_data={"shipments": ":,", "events": ":,"},
        labels={
            "events": "Exception events",
            "exception_type": "Exception",
            "responsible_party": "Responsible party",
            "shipments": "Shipments",
        },
        title=title,
    )
    fig.update_yaxes(categoryorder="total ascending")
    return _layout(fig, height=120 + 28 * df["exception_type"].n_unique())


def shipment_timeline(
    milestones: pl.DataFrame, events: pl.DataFrame, shipment: dict | None = None
) -> go.Figure:
    """Planned / estimated / actual per milestone, every raw event with its source code, and
    the booked pickup and delivery windows as bars."""
    fig = go.Figure()
    order = milestones.sort("milestone_sequence")["milestone"].to_list()
    for milestone, start, end in (
        ("PICKED_UP", "planned_pickup_start_at", "planned_pickup_end_at"),
        ("DELIVERED", "planned_delivery_start_at", "planned_delivery_end_at"),
    ):
        if shipment and shipment.get(start) and shipment.get(end):
            if milestone not in order:
                order.append(milestone)
            fig.add_trace(
                go.Scatter(
                    x=[shipment[start], shipment[end]],
                    y=[milestone, milestone],
                    mode="lines",
                    line={"color": "rgba(21,101,192,0.25)", "width": 14},
                    name="Booked window",
                    legendgroup="window",
                    showlegend=milestone == "PICKED_UP",
                    hovertemplate=(
                        f"{milestone} window<br>%{{x|%Y-%m-%d %H:%M}} UTC<extra></extra>"
                    ),
                )
            )
    for column, label, symbol, color in (
        ("planned_at", "Planned", "square-open", MUTED),
        ("estimated_at", "Estimated", "diamond-open", "#EF6C00"),
        ("actual_at", "Actual", "circle", GOOD),
    ):
        df = milestones.filter(pl.col(column).is_not_null())
        if df.height:
            fig.add_trace(
                go.Scatter(
                    x=df[column].to_list(),
                    y=df["milestone"].to_list(),
                    mode="markers",
                    name=label,
                    marker={"symbol": symbol, "size": 13, "color": color},
                    customdata=df.select(
                        pl.col("actual_source").fill_null(""),
                        pl.col("actual_raw_code").fill_null(""),
                    ).rows(),
                    hovertemplate=(
                        f"%{{y}} {label.lower()}<br>%{{x|%Y-%m-%d %H:%M}} UTC"
                        + ("<br>%{customdata[0]} %{customdata[1]}" if column == "actual_at" else "")
                        + "<extra></extra>"
                    ),
                )
            )
    ev = events.filter(pl.col("event_at").is_not_null())
    if ev.height:
        for is_exc, name, color, symbol in (
            (False, "Raw event", NEUTRAL, "line-ns-open"),
            (True, "Exception", BAD, "x"),
        ):
            df = ev.filter(pl.col("is_exception") == is_exc)
            if not df.height:
                continue
            fig.add_trace(
                go.Scatter(
                    x=df["event_at"].to_list(),
                    y=["Raw events"] * df.height,
                    mode="markers",
                    name=name,
                    marker={"symbol": symbol, "size": 14 if is_exc else 12, "color": color},
                    customdata=df.select(
                        "source",
                        "raw_code",
                        pl.col("milestone").fill_null(""),
                        pl.col("exception_type").fill_null(""),
                        pl.col("responsible_party").fill_null(""),
                    ).rows(),
                    hovertemplate=(
                        "%{x|%Y-%m-%d %H:%M} UTC<br>%{customdata[0]} code %{customdata[1]}"
                        " -> %{customdata[2]}<br>%{customdata[3]} %{customdata[4]}<extra></extra>"
                    ),
                )
            )
    fig.update_layout(
        title="Timeline: milestones (planned, estimated, actual) and raw carrier events",
        xaxis_title="Time (UTC)",
        yaxis_title="",
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_yaxes(categoryorder="array", categoryarray=["Raw events", *order[::-1]][::-1])
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=140 + 34 * (len(order) + 1))


def alerts_by_type(df: pl.DataFrame) -> go.Figure:
    counts = df.group_by("alert_type").agg(
        pl.len().alias("alerts"), pl.col("age_hours").median().alias("median_age_hours")
    )
    fig = px.bar(
        counts.sort("alerts", descending=True).to_pandas(),
        x="alert_type",
        y="alerts",
        color="alert_type",
        hover_data={"median_age_hours": ":.1f"},
        labels={
            "alert_type": "Alert",
            "alerts": "Open alerts (shipments)",
            "median_age_hours": "Median age (hours)",
        },
        title="Open alerts by type",
    )
    fig.update_layout(showlegend=False)
    return _layout(fig, height=300)


def quarantine_by_feed(df: pl.DataFrame) -> go.Figure:
    fig = px.bar(
        df.to_pandas(),
        x="rows",
        y="feed",
        color="rule",
        orientation="h",
        hover_data=["field", "example_reason"],
        labels={
            "rows": "Rows quarantined",
            "feed": "Feed",
            "rule": "Rule",
            "field": "Field",
            "example_reason": "Example",
        },
        title="Quarantined rows by feed and rule",
    )
    fig.update_yaxes(categoryorder="total ascending")
    return _layout(fig, height=120 + 26 * df["feed"].n_unique())


def status_bar(
    df: pl.DataFrame,
    status: str,
    value: str,
    title: str,
    axis: str | None = None,
    color: str | None = None,
) -> go.Figure:
    """Bars per status (x), stacked by ``color`` (default: carrier when there is one)."""
    if color is None and "carrier_code" in df.columns:
        color = "carrier_code"
    axis = axis or value.replace("_", " ")
    fig = px.bar(
        df.to_pandas(),
        x=status,
        y=value,
        color=color,
        labels={
            status: status.replace("_", " ").capitalize(),
            value: axis,
            "carrier_code": "Carrier",
            "payable_status": "Payable status",
            "component": "Component",
        },
        title=title,
        hover_data={value: ":,.2f"},
    )
    return _layout(fig)


def generic_bar(df: pl.DataFrame, x: str, y: str, title: str, x_title: str, y_title: str):
    fig = px.bar(df.to_pandas(), x=x, y=y, labels={x: x_title, y: y_title}, title=title)
    return _layout(fig)


def dq_history(df: pl.DataFrame) -> go.Figure:
    """Expectations failed per evaluation over time (blocking ones stop publication)."""
    fig = go.Figure()
    for column, name, color in (
        ("failed", "Failed (all)", "#EF6C00"),
        ("failed_blocking", "Failed (blocking)", BAD),
    ):
        fig.add_trace(
            go.Scatter(
                x=df["checked_at"].to_list(),
                y=df[column].to_list(),
                mode="lines+markers",
                name=name,
                line={"color": color},
                customdata=df.select("evaluation", "expectations").rows(),
                hovertemplate=(
                    "%{x|%Y-%m-%d %H:%M} UTC<br>run %{customdata[0]}<br>"
                    f"{name}: %{{y:,}} of %{{customdata[1]:,}} expectations<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title="Data-quality history: failed expectations per evaluation",
        xaxis_title="Checked at (UTC)",
        yaxis_title="Failed expectations",
    )
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, height=300)
