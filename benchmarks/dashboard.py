"""Benchmark: how long each dashboard page's queries take on a published snapshot, uncached
(the first visitor after a publish; later visits hit st.cache_data).

    WAYBILL_DATA_DIR=/path/to/data .venv/bin/python benchmarks/dashboard.py [--tenant CUST-0001]

Prints seconds per page and a Markdown table for docs/benchmarks.md. With --tenant, also the
one-off build of that customer's database (dashboards/data.py) and the pages in its scope. With
--render, also each whole page rendered by Streamlit's AppTest (script, queries, charts): the
first render (uncached) and a second one served from st.cache_data, as a returning visitor sees
(the AppTest harness's own per-instance component scan is printed separately, not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards import data  # noqa: E402


def pages(scope: data.Scope, f: data.Filters, carrier: str, needle: str) -> dict:
    """The data calls each page makes on its first render, by page."""
    trend = replace(f, start=None)
    return {
        "overview": lambda: (
            data.order_kpis(f, scope),
            data.order_kpis(f.previous(), scope),
            data.shipment_kpis(f, scope),
            data.shipment_kpis(f.previous(), scope),
            data.finance_kpis(f, scope),
            data.monthly_order_kpis(trend, scope),
            data.monthly_shipment_kpis(trend, scope=scope),
            data.drill_orders("perfect_order", f, scope),
        ),
        "carriers": lambda: (
            data.carrier_ranking(f, scope),
            data.monthly_shipment_kpis(f, carrier, scope),
            data.carrier_transit_times(carrier, f, scope),
            data.carrier_lane_matrix(carrier, f, scope),
            data.exception_reasons(carrier, f, scope),
        ),
        "shipments": lambda: data.search_shipments(needle, scope=scope),
        "exceptions": lambda: data.alerts(data.NO_FILTERS, scope),
        "finance": lambda: finance(scope, f),
        "workbench": lambda: data.catalog(scope),
    }


def finance(scope: data.Scope, f: data.Filters) -> None:
    present = data.finance_tables(scope)
    if present.get("fct_freight_audit_invoices"):
        data.freight_audit_by_status(scope, f=f)
        data.freight_audit_by_status(scope, by_carrier=True, f=f)
        data.freight_audit_lines(f, scope)
    if present.get("rpt_receivables_aging"):
        data.receivables_aging(scope, f=f)
    if present.get("rpt_payables_aging"):
        data.payables_aging(scope, f=f)
    if present.get("fct_order_margin"):
        for dim in (None, "customer_id", "lane"):
            data.margin_by(dim, scope, f=f)
    if present.get("fct_landed_cost_lines"):
        data.landed_cost_breakdown(scope, f=f)
    if present.get("rpt_carrier_cost_monthly"):
        data.mart("rpt_carrier_cost_monthly", scope, f=f)
    data.export_counts(scope)


_COMPONENTS = None  # Streamlit's component registry, built by the first AppTest


def render(page: str) -> tuple[float, float]:
    """Seconds for the first AppTest script run of a page and for a second, cached one (for
    pages other than the overview, the app opens on the overview first, untimed).

    A fresh AppTest scans the metadata of every installed package for Streamlit components
    (about 0.8 s here) on its first run: test-harness overhead that a running server pays once
    at start-up, so the registry of the first AppTest is reused (see ``scan_seconds``)."""
    from streamlit.testing.v1 import AppTest

    global _COMPONENTS
    app = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
    times = []
    for _ in range(2):
        at = AppTest.from_file(app, default_timeout=600)
        if _COMPONENTS is not None:
            at._bidi_component_manager = _COMPONENTS
        if page != "overview":
            at.run()
            at.switch_page(f"app_pages/{page}.py")
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        _COMPONENTS = at._bidi_component_manager
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
    return times[0], times[1]


def scan_seconds() -> float:
    """What the component scan costs each fresh AppTest (left out of the render times)."""
    from streamlit.components.v2.manifest_scanner import scan_component_manifests

    return timed(scan_component_manifests)


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation (numpy's default), for a handful of repeats."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenant", help="also time this customer's scope")
    parser.add_argument("--render", action="store_true", help="also time whole-page renders")
    parser.add_argument(
        "--repeats", type=int, default=1, help="time each page's queries this many times"
    )
    parser.add_argument(
        "--json", action="store_true", help="last line: JSON rows with p50/p95/max per page"
    )
    args = parser.parse_args()
    # Page renders run the app as an operator would with `waybill dashboard --no-auth`: an
    # internal user on this machine (the data layer timings do not involve sign-in at all).
    os.environ.setdefault("WAYBILL_DASHBOARD_NO_AUTH", "1")
    if not data.has_snapshot():
        print(f"no snapshot at {data.snapshot_path()}", file=sys.stderr)
        return 2
    from dashboards.ui import _default_period

    opts = data.filter_options()
    f = data.Filters(*_default_period(opts))
    orders = data.query("select count(*) as n from marts.fct_orders")["n"][0]
    shipments = data.query("select count(*) as n from marts.fct_shipments")["n"][0]
    ranking = data.carrier_ranking(f)
    carrier = ranking.sort("shipments", descending=True)["carrier_code"][0]
    rows = []
    for label, scope in [("all customers", data.ALL)] + (
        [(f"tenant {args.tenant}", data.Scope(args.tenant))] if args.tenant else []
    ):
        if scope.is_tenant:
            data.TENANT_DATABASES.clear()
            rows.append((label, "build tenant database", [timed(lambda s=scope: data.tables(s))]))
        for page, fn in pages(scope, f, carrier, "SHP0000012").items():
            if scope.is_tenant and page == "carriers":
                continue  # internal users only
            rows.append((label, page, [timed(fn) for _ in range(max(1, args.repeats))]))
    print(
        f"snapshot {data.snapshot_path()} ({orders:,} orders, {shipments:,} shipments; "
        f"period {f.start} - {f.end})\n"
    )
    print("| scope | page | p50 s | p95 s (queries, uncached) |\n|---|---|---:|---:|")
    summary = []
    for scope, page, times in rows:
        p50, p95 = quantile(times, 0.5), quantile(times, 0.95)
        summary.append({"scope": scope, "page": page, "p50": p50, "p95": p95, "max": max(times)})
        print(f"| {scope} | {page} | {p50:.3f} | {p95:.3f} |")
    if args.render:
        # Warm the process (imports, Plotly's templates, the component registry) on a page
        # that queries nothing, so the first page timed does not pay it.
        render("workbench")
        from dashboards import ui

        ui._cached.clear()  # st.cache_data: the first render of each page is uncached again
        print(f"\nAppTest component scan (per fresh AppTest, excluded): {scan_seconds():.2f} s")
        print("\n| page | first render (s) | cached render (s) |\n|---|---:|---:|")
        for page in (
            "overview",
            "carriers",
            "shipments",
            "exceptions",
            "finance",
            "quality",
            "workbench",
        ):
            first, cached = render(page)
            print(f"| {page} | {first:.2f} | {cached:.2f} |")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
