"""``waybill bench``: what a run costs at a given scale, scenario by scenario.

    waybill bench --orders 100000 [--seed 1] [--keep DIR] [--repeats 5] [--skip-floor]

Generates N orders (or reuses the landing zone in ``--keep DIR`` when it holds the same orders
and seed), then runs, each as its own ``waybill`` process as a user would:

a. the first full run on an empty warehouse;
b. a run with nothing new;
c. a run after a later delivery of about 1 % new data, when the generator can write one
   (``waybill generate --increment-of``), else reported as not measured;
d. the dashboard's page queries on the published snapshot, uncached, p50/p95 over repeats
   (``benchmarks/dashboard.py --json``);

and the floor (``benchmarks/floor.py``): the core slice (landing files to shipment events,
shipments, orders and per-carrier on-time) as one direct DuckDB script, checked equal to the
marts. Per stage it prints wall time, rows per second and the peak resident memory of the
whole process tree (Dagster and the dbt it starts, sampled from /proc), then
``ratio full/floor`` and ``ratio incremental/full``. A benchmark, not a test: figures depend on
the machine, which the output describes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from waybill.settings import PROJECT_ROOT, load_settings

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants, now."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
        todo += _children(p)
    return total


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    returncode: int
    output: str


def measure(cmd: list[str], env: dict[str, str], interval: float = 0.1) -> Measured:
    """Run ``cmd``; wall time and the peak of the process tree's summed RSS (sampled)."""
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rc = proc.wait()
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
        log.seek(0)
        return Measured(seconds, peak / 2**20, rc, log.read())


@dataclass
class Scenario:
    name: str
    measured: Measured | None = None
    stages: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    note: str = ""


def _waybill(*args: str) -> list[str]:
    return [sys.executable, "-m", "waybill.cli", *args]


def _env(data_dir: Path) -> dict[str, str]:
    env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    return env


def _manifest_params(landing: Path) -> dict | None:
    path = landing / "manifest.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("parameters")


def _rows_of_run(data_dir: Path, run_id: str) -> dict[str, int]:
    """Rows read by run ``run_id`` and rows held in raw (the dbt build's input)."""
    settings = load_settings(data_dir)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        read = con.execute(
            "select coalesce(sum(rows_read), 0) from meta.load_log where run_id = ?", [run_id]
        ).fetchall()[0][0]
        raw = con.execute("select coalesce(sum(rows_loaded), 0) from meta.load_log").fetchall()[0][
            0
        ]
    finally:
        con.close()
    return {"read": int(read), "raw": int(raw)}


def run_scenario(name: str, data_dir: Path, *run_args: str) -> Scenario:
    from orchestration.run_stats import stage_seconds

    settings = load_settings(data_dir)
    measured = measure(_waybill("run", "--quiet", *run_args), _env(data_dir))
    scenario = Scenario(name, measured)
    if measured.returncode != 0:
        scenario.note = f"exit {measured.returncode}: " + measured.output[-600:]
        return scenario
    run_id, scenario.stages = stage_seconds(settings.dagster_home)
    scenario.rows = _rows_of_run(data_dir, run_id)
    if "nothing new since the last published snapshot" in measured.output:
        scenario.note = "nothing new: dbt, publish and exports skipped"
    return scenario


def fresh_warehouse(data_dir: Path) -> None:
    for name in ("warehouse", "serving", "exports", "dashboard_tmp", "dagster_home"):
        shutil.rmtree(data_dir / name, ignore_errors=True)


def remove_increment(landing: Path) -> None:
    """A reused landing zone goes back to the base: the files an earlier bench's increment
    wrote (listed in its manifest) are removed, so scenario a. does not include them."""
    for manifest in landing.glob("manifest_update*.json"):
        doc = json.loads(manifest.read_text())
        for feed in doc.get("feeds", {}).values():
            for kind in ("files", "malformed_files", "duplicate_files"):
                for entry in feed.get(kind, []):
                    name = entry["name"] if isinstance(entry, dict) else entry
                    (landing / name).unlink(missing_ok=True)
        shutil.rmtree(landing / "_truth" / manifest.stem.removeprefix("manifest_"), True)
        manifest.unlink()


def increment(data_dir: Path) -> str | None:
    """Write a later delivery into the landing zone; None when the generator cannot."""
    help_text = subprocess.run(
        _waybill("generate", "--help"), capture_output=True, text=True, cwd=PROJECT_ROOT
    ).stdout
    if "--increment-of" not in help_text:
        return "the generator cannot write an increment yet (waybill generate --increment-of)"
    landing = load_settings(data_dir).landing
    done = subprocess.run(
        _waybill("generate", "--increment-of", str(landing), "--out", str(landing), "--quiet"),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env(data_dir),
    )
    if done.returncode:
        return f"generate --increment-of failed: {done.stderr[-400:]}"
    return None


def floor(data_dir: Path) -> Measured:
    """benchmarks/floor.py on the same landing zone, checked against the published marts."""
    snapshot = load_settings(data_dir).snapshot
    script = PROJECT_ROOT / "benchmarks" / "floor.py"
    return measure(
        [sys.executable, str(script), "--data-dir", str(data_dir), "--check", str(snapshot)],
        _env(data_dir),
    )


def dashboard(data_dir: Path, repeats: int) -> list[dict]:
    script = PROJECT_ROOT / "benchmarks" / "dashboard.py"
    done = subprocess.run(
        [sys.executable, str(script), "--json", "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env(data_dir),
    )
    if done.returncode:
        raise RuntimeError(f"benchmarks/dashboard.py failed: {done.stderr[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _machine() -> str:
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GB RAM"
    except (OSError, ValueError):
        pass
    return (
        f"{platform.node()}: {os.cpu_count()} CPU, {mem}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, DuckDB {duckdb.__version__}"
    )


def _table(scenario: Scenario) -> list[str]:
    m = scenario.measured
    lines = [f"### {scenario.name}", ""]
    if m is None:
        return lines + [f"not measured: {scenario.note}", ""]
    lines += ["| stage | seconds | rows/s |", "|---|---:|---:|"]
    read, raw = scenario.rows.get("read", 0), scenario.rows.get("raw", 0)
    for stage, seconds in scenario.stages.items():
        if stage == "run":
            continue
        rows = read if stage == "ingest" else raw if stage == "dbt build" else 0
        rate = f"{rows / seconds:,.0f}" if rows and seconds > 0.5 else ""
        lines.append(f"| {stage} | {seconds:.1f} | {rate} |")
    startup = m.seconds - scenario.stages.get("run", 0.0)
    lines.append(f"| process start, definitions, summary | {startup:.1f} | |")
    lines.append(f"| **total (wall)** | **{m.seconds:.1f}** | |")
    note = f"; {scenario.note}" if scenario.note else ""
    lines += ["", f"peak RSS of the process tree: {m.peak_mb:,.0f} MB; rows read {read:,}{note}"]
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="waybill bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", type=Path, help="data directory to use and keep (default: a temp dir)")
    p.add_argument("--repeats", type=int, default=5, help="dashboard query repeats")
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument("--skip-increment", action="store_true")
    args = p.parse_args(argv)
    return bench(args)


def bench(args: argparse.Namespace) -> int:
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix=f"waybill-bench-{args.orders}-"))
    data_dir = data_dir.resolve()
    landing = load_settings(data_dir).landing
    params = _manifest_params(landing)
    print(f"# waybill bench: {args.orders:,} orders, seed {args.seed}\n\n{_machine()}\n")
    print(f"data directory: {data_dir}\n")
    if params and params.get("orders") == args.orders and params.get("seed") == args.seed:
        remove_increment(landing)
        print("landing zone: reused (same orders and seed)\n")
    else:
        shutil.rmtree(landing, ignore_errors=True)
        gen = measure(
            _waybill("generate", "--orders", str(args.orders), "--seed", str(args.seed), "--quiet"),
            _env(data_dir),
        )
        if gen.returncode:
            print(gen.output[-2000:], file=sys.stderr)
            return 1
        print(f"generate: {gen.seconds:.1f} s, peak {gen.peak_mb:,.0f} MB\n")
    landing_mb = sum(f.stat().st_size for f in landing.rglob("*") if f.is_file()) / 2**20

    fresh_warehouse(data_dir)
    scenarios = [run_scenario("a. first full run", data_dir)]
    full = scenarios[0]
    if full.measured.returncode:
        print("\n".join(_table(full)))
        return 1
    scenarios.append(run_scenario("b. run with nothing new", data_dir))
    floor_measured = None
    if not args.skip_floor and (PROJECT_ROOT / "benchmarks" / "floor.py").exists():
        floor_measured = floor(data_dir)
    if args.skip_increment:
        scenarios.append(Scenario("c. run after a 1 % later delivery", note="--skip-increment"))
    else:
        problem = increment(data_dir)
        if problem:
            scenarios.append(Scenario("c. run after a 1 % later delivery", note=problem))
        else:
            scenarios.append(run_scenario("c. run after a 1 % later delivery", data_dir))
    pages = dashboard(data_dir, args.repeats)

    settings = load_settings(data_dir)
    sizes = {
        "landing": landing_mb,
        "warehouse": settings.warehouse.stat().st_size / 2**20,
        "snapshot": settings.snapshot.stat().st_size / 2**20,
    }
    for scenario in scenarios:
        print("\n".join(_table(scenario)))
    print("### d. dashboard page queries (uncached, seconds)\n")
    print("| scope | page | p50 | p95 | max |\n|---|---|---:|---:|---:|")
    for row in pages:
        print(
            f"| {row['scope']} | {row['page']} | {row['p50']:.3f} | {row['p95']:.3f} | "
            f"{row['max']:.3f} |"
        )
    print("\n### ratios and sizes\n")
    full_s = full.measured.seconds
    if floor_measured is not None:
        state = "equal to the marts" if floor_measured.returncode == 0 else "NOT equal (see below)"
        print(
            f"- floor (benchmarks/floor.py): {floor_measured.seconds:.1f} s, peak "
            f"{floor_measured.peak_mb:,.0f} MB, {state}; **ratio full/floor "
            f"{full_s / floor_measured.seconds:.1f}**"
        )
        if floor_measured.returncode:
            print("\n```\n" + floor_measured.output[-1500:] + "\n```")
    inc = scenarios[2]
    if inc.measured and inc.measured.returncode == 0:
        print(f"- **ratio incremental/full {inc.measured.seconds / full_s:.2f}**")
    noop = scenarios[1].measured
    print(f"- nothing new: {noop.seconds:.1f} s ({noop.seconds / full_s:.0%} of the full run)")
    orders = args.orders
    for name, mb in sizes.items():
        print(f"- {name}: {mb:,.0f} MB ({mb * 2**20 / orders:,.0f} bytes per order)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
