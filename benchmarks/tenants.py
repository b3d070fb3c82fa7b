"""Benchmark: 20 tenants opening the dashboard at once, in one process (Streamlit serves each
session in a thread of the server process, so that is how tenants share the tenant-database
cache of dashboards/data.py).

    .venv/bin/python benchmarks/tenants.py --orders 10000 [--seed 1] [--data-dir DIR]
        [--tenants 20] [--rounds 5] [--think 0] [--cache 1GB] [--build-slots N] [--json]

Uses the published snapshot in ``--data-dir`` (default: $WAYBILL_DATA_DIR when it has one, else
``$TMPDIR/waybill-tenants-<orders>-s<seed>``) when its landing zone holds the same orders and
seed (or has no manifest: an imported data set), else generates the data set there and runs
the pipeline once (``waybill generate``, ``waybill run``, each as its own process).

Then the customers with the most orders, one thread each, released together by a barrier as
after a restart or a publish: a **first page load** (the tenant's database built, the filter
bar's options and the overview page's queries), then ``--rounds`` rounds of the data calls of
every page a tenant sees (overview, shipments, exceptions, finance, workbench), uncached by
st.cache_data as on the first visit after a publish, with ``--think`` seconds between pages
(default none: every tenant clicks as fast as the server answers). Meanwhile a **bystander**, one more tenant
whose database is built before the start, runs a one-row query in a loop until every first load
is done: how long a warm tenant waits while the others' databases are built.

Prints p50/p95/max of the first loads, of each page's data calls and of single queries (one
``data.connect`` each), the total wall time, the process's peak RSS and the cache's bytes,
databases, builds and evictions; with --json a last line of JSON. A benchmark, not a test:
figures depend on the machine, which the output describes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dashboard import pages, quantile  # noqa: E402  (benchmarks/dashboard.py)

from waybill.bench import _env, _machine, _manifest_params, _waybill, measure  # noqa: E402
from waybill.settings import load_settings  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE")
TENANT_PAGES = ("overview", "shipments", "exceptions", "finance", "workbench")


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE


def data_set(data_dir: Path, orders: int, seed: int) -> str:
    """Make sure ``data_dir`` has a published snapshot of ``orders`` orders; what was done."""
    settings = load_settings(data_dir)
    params = _manifest_params(settings.landing)
    if settings.snapshot.exists() and (
        params is None or (params.get("orders"), params.get("seed")) == (orders, seed)
    ):
        return "reused" if params else "reused (no manifest: an imported data set)"
    env = _env(data_dir)
    steps = [
        ("generate", _waybill("generate", "--orders", str(orders), "--seed", str(seed), "--quiet")),
        ("run", _waybill("run", "--quiet", "--full-refresh")),
    ]
    done = []
    for name, cmd in steps:
        m = measure(cmd, env)
        if m.returncode:
            raise SystemExit(f"waybill {name} failed:\n{m.output[-3000:]}")
        done.append(f"{name} {m.seconds:.0f} s (peak {m.peak_mb:,.0f} MB)")
    return "made: " + ", ".join(done)


class Timings:
    """Durations by kind, from every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_kind: dict[str, list[float]] = {}

    def add(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.by_kind.setdefault(kind, []).append(seconds)

    def summary(self, kind: str) -> dict:
        values = self.by_kind.get(kind, [])
        if not values:
            return {"n": 0}
        return {
            "n": len(values),
            "p50": quantile(values, 0.5),
            "p95": quantile(values, 0.95),
            "max": max(values),
        }


def time_queries(data, timings: Timings) -> threading.local:
    """Time every ``data.connect`` block (one query each: acquire, run, fetch, release) by
    the calling thread's current phase."""
    real = data.connect
    phase = threading.local()

    @contextmanager
    def timed_connect(*args, **kwargs):
        t0 = time.perf_counter()
        with real(*args, **kwargs) as con:
            yield con
        timings.add(getattr(phase, "kind", "query"), time.perf_counter() - t0)

    data.connect = timed_connect
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every page per tenant")
    parser.add_argument("--cache", help="WAYBILL_DASHBOARD_TENANT_CACHE for this run (1GB, 20%%)")
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds a tenant pauses between pages"
    )
    parser.add_argument(
        "--build-slots", type=int, help="tenant databases built at once (default: the cache's)"
    )
    parser.add_argument("--json", action="store_true", help="last line: the figures as JSON")
    args = parser.parse_args()

    data_dir = args.data_dir
    if data_dir is None and os.environ.get("WAYBILL_DATA_DIR"):
        data_dir = Path(os.environ["WAYBILL_DATA_DIR"])
    if data_dir is None:
        data_dir = Path(tempfile.gettempdir()) / f"waybill-tenants-{args.orders}-s{args.seed}"
    data_dir = data_dir.resolve()
    made = data_set(data_dir, args.orders, args.seed)
    os.environ["WAYBILL_DATA_DIR"] = str(data_dir)
    if args.cache:
        os.environ["WAYBILL_DASHBOARD_TENANT_CACHE"] = args.cache

    from dashboards import data
    from dashboards.ui import _default_period

    if args.build_slots:
        data.TENANT_DATABASES = data._TenantDatabases(build_slots=args.build_slots)
    counted = data.query(
        "select customer_id, count(*) as n from marts.fct_orders group by 1 order by 2 desc, 1"
    )
    customers = counted["customer_id"].to_list()
    if len(customers) < args.tenants + 1:
        raise SystemExit(f"{len(customers)} customers: need {args.tenants} tenants + 1 bystander")
    tenants, bystander = customers[: args.tenants], customers[args.tenants]
    orders = dict(zip(customers, counted["n"].to_list(), strict=True))
    opts = data.filter_options()
    f = data.Filters(*_default_period(opts))
    data.query("select 1", scope=data.Scope(bystander))  # its database, built before the start

    timings = Timings()
    phase = time_queries(data, timings)
    start = threading.Barrier(args.tenants + 2)
    first_loads_done = threading.Event()
    loaded = []
    errors: list[str] = []

    def tenant(customer: str) -> None:
        scope = data.Scope(customer)
        calls = pages(scope, f, "", "SHP0000012")
        try:
            start.wait()
            phase.kind = "first-load query"
            t0 = time.perf_counter()
            data.filter_options(scope)
            calls["overview"]()
            timings.add("first load", time.perf_counter() - t0)
            with lock:
                loaded.append(customer)
                if len(loaded) == args.tenants:
                    first_loads_done.set()
            phase.kind = "query"
            for _ in range(args.rounds):
                for page in TENANT_PAGES:
                    t0 = time.perf_counter()
                    calls[page]()
                    timings.add(f"page {page}", time.perf_counter() - t0)
                    time.sleep(args.think)
        except Exception as exc:  # reported below, and the run fails
            errors.append(f"{customer}: {type(exc).__name__}: {exc}")
            first_loads_done.set()

    def bystand() -> None:
        scope = data.Scope(bystander)
        phase.kind = "bystander query"
        start.wait()
        while not first_loads_done.is_set():
            data.query("select count(*) as n from marts.fct_orders", scope=scope)

    lock = threading.Lock()
    peak = {"rss": rss(), "cache": 0}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.05):
            peak["rss"] = max(peak["rss"], rss())
            peak["cache"] = max(peak["cache"], stats(data).get("bytes", 0))

    baseline = rss()
    threads = [threading.Thread(target=tenant, args=(c,)) for c in tenants]
    threads.append(threading.Thread(target=bystand))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads[:-1]:
        t.join()
    wall = time.perf_counter() - t0
    first_loads_done.set()
    threads[-1].join()
    sampling.set()
    sampler.join()
    peak_rss = max(peak["rss"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    cache = stats(data)

    kinds = ["first load", "first-load query", "query", "bystander query"]
    kinds += [f"page {p}" for p in TENANT_PAGES]
    result = {
        "machine": _machine(),
        "data_dir": str(data_dir),
        "data_set": made,
        "orders": int(counted["n"].sum()),
        "tenants": args.tenants,
        "tenant_orders": [orders[c] for c in tenants],
        "rounds": args.rounds,
        "think_s": args.think,
        "wall_s": wall,
        "rss_before_mb": baseline / 2**20,
        "peak_rss_mb": peak_rss / 2**20,
        "peak_cache_mb": peak["cache"] / 2**20,
        "cache": cache,
        "timings": {k: timings.summary(k) for k in kinds},
        "errors": errors,
    }
    report(result)
    if args.json:
        print(json.dumps(result))
    return 1 if errors else 0


def stats(data) -> dict:
    """The tenant cache's figures (an older dashboards/data.py has none)."""
    cache = data.TENANT_DATABASES
    return cache.stats() if hasattr(cache, "stats") else {}


def report(r: dict) -> None:
    sizes = r["tenant_orders"]
    print(f"# {r['tenants']} concurrent tenants\n\n{r['machine']}\n")
    print(f"data directory: {r['data_dir']} ({r['data_set']}); {r['orders']:,} orders")
    print(
        f"tenants: the {r['tenants']} customers with the most orders "
        f"({sizes[0]:,} down to {sizes[-1]:,}); {r['rounds']} rounds of "
        f"{', '.join(TENANT_PAGES)} each, {r['think_s']:g} s between pages; databases built "
        f"at once: {r['cache'].get('build_slots', 'any')}\n"
    )
    print("| what | n | p50 s | p95 s | max s |\n|---|---:|---:|---:|---:|")
    labels = {
        "first load": "first page load (build + filter bar + overview)",
        "first-load query": "single query during the first loads",
        "query": "single query afterwards (warm)",
        "bystander query": "warm bystander's query while the others build",
    }
    for kind, t in r["timings"].items():
        if t["n"]:
            label = labels.get(kind, f"{kind.removeprefix('page ')} page's queries (warm)")
            print(f"| {label} | {t['n']} | {t['p50']:.3f} | {t['p95']:.3f} | {t['max']:.3f} |")
    cache = r["cache"]
    print(f"\ntotal wall: {r['wall_s']:.1f} s")
    print(f"RSS: {r['rss_before_mb']:,.0f} MB before, peak {r['peak_rss_mb']:,.0f} MB")
    if cache:
        print(
            f"tenant cache: {cache['bytes'] / 2**20:,.0f} MB in {cache['databases']} databases "
            f"(peak {r['peak_cache_mb']:,.0f} MB, bound {cache['max_bytes'] / 2**20:,.0f} MB); "
            f"builds {cache['builds']}, hits {cache['hits']}, evictions {cache['evictions']}"
        )
    for error in r["errors"]:
        print(f"ERROR {error}")


if __name__ == "__main__":
    sys.exit(main())
