"""Benchmark: how long each dashboard page's queries take on a published snapshot, uncached
(the first visitor after a publish; later visits hit st.cache_data).

    WAYBILL_DATA_DIR=/path/to/data .venv/bin/python benchmarks/dashboard.py [--tenant CUST-0001]

Prints seconds per page and a Markdown table for docs/benchmarks.md. With --tenant, also the
one-off build of that customer's database (dashboards/data.py) and the pages in its scope.
"""

from __future__ import annotations

import argparse
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
        "workbench": lambda: data.catalog(scope),
    }


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenant", help="also time this customer's scope")
    args = parser.parse_args()
    if not data.has_snapshot():
        print(f"no snapshot at {data.snapshot_path()}", file=sys.stderr)
        return 2
    opts = data.filter_options()
    end = opts["as_of"]
    f = data.Filters(start=end.replace(day=1).replace(month=max(1, end.month - 2)), end=end)
    orders = data.query("select count(*) as n from marts.fct_orders")["n"][0]
    carrier = data.carrier_ranking(f)["carrier_code"][0]
    rows = []
    for label, scope in [("all customers", data.ALL)] + (
        [(f"tenant {args.tenant}", data.Scope(args.tenant))] if args.tenant else []
    ):
        if scope.is_tenant:
            data.TENANT_DATABASES.clear()
            rows.append((label, "build tenant database", timed(lambda s=scope: data.tables(s))))
        for page, fn in pages(scope, f, carrier, "SHP0000012").items():
            rows.append((label, page, timed(fn)))
    print(f"snapshot {data.snapshot_path()} ({orders:,} orders)\n")
    print("| scope | page | seconds (uncached) |\n|---|---|---:|")
    for scope, page, seconds in rows:
        print(f"| {scope} | {page} | {seconds:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
