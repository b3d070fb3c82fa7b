"""Benchmark: time and peak memory of `waybill generate` and `waybill run` at a given scale.

    .venv/bin/python benchmarks/pipeline.py --orders 10000 [--orders 1000000] [--keep DIR]

Each step runs as its own process (as a user runs it); peak memory is that process's maximum
resident set size. After the two runs, `dbt build` alone on the loaded warehouse is timed too,
with its slowest nodes (from dbt's run_results.json). Prints one line per step and a Markdown
table for docs/benchmarks.md.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, return code) of one child process and the processes it waited
    for (dbt runs as a child of `waybill run`; Linux folds its peak into the parent's rusage)."""
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        proc.returncode = rc
        if rc:
            err.seek(0)
            print(err.read()[-3000:], file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, rc


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def bench(orders: int, seed: int, keep: Path | None) -> list[str]:
    data_dir = keep or Path(tempfile.mkdtemp(prefix=f"waybill-bench-{orders}-"))
    env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    waybill = [sys.executable, "-m", "waybill.cli"]
    rows = []
    steps = [
        (
            "generate",
            [*waybill, "generate", "--orders", str(orders), "--seed", str(seed), "--quiet"],
        ),
        ("run (first, full load)", [*waybill, "run", "--quiet"]),
        ("run (again, nothing new)", [*waybill, "run", "--quiet"]),
    ]
    # dbt alone, as `waybill run` invokes it, with its artefacts outside the project's target/
    dbt_target = data_dir / "bench-dbt-target"
    dbt_dir = str(ROOT / "dbt_project")
    steps.append(
        (
            "dbt build (alone, loaded warehouse)",
            [
                str(Path(sys.executable).parent / "dbt"),
                "build",
                "--project-dir",
                dbt_dir,
                "--profiles-dir",
                dbt_dir,
                "--target-path",
                str(dbt_target),
                "--quiet",
            ],
        )
    )
    warehouse = (data_dir / "warehouse" / "waybill.duckdb").resolve()
    env = env | {"WAYBILL_WAREHOUSE_PATH": str(warehouse)}
    for name, cmd in steps:
        seconds, peak_mb, rc = timed(cmd, env)
        line = f"| {orders:,} | {name} | {seconds:,.1f} s | {peak_mb:,.0f} MB | {'ok' if rc == 0 else f'exit {rc}'} |"
        print(line, flush=True)
        rows.append(line)
        if rc:
            break
    results = dbt_target / "run_results.json"
    if results.exists():
        nodes = json.loads(results.read_text())["results"]
        nodes.sort(key=lambda n: -n["execution_time"])
        print(
            "slowest dbt nodes: "
            + ", ".join(
                f"{n['unique_id'].split('.')[-1]} {n['execution_time']:.1f} s" for n in nodes[:12]
            )
        )
        marts = [
            n
            for n in nodes
            if n["unique_id"].startswith("model.")
            and n["unique_id"].split(".")[-1].startswith(("fct_", "kpi_", "rpt_"))
        ]
        print(
            "marts: "
            + ", ".join(
                f"{n['unique_id'].split('.')[-1]} {n['execution_time']:.1f} s" for n in marts
            )
        )
    print(
        f"landing: {du_mb(data_dir / 'landing'):,.0f} MB, warehouse: "
        f"{du_mb(data_dir / 'warehouse'):,.0f} MB, snapshot: {du_mb(data_dir / 'serving'):,.0f} MB"
    )
    if keep is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, action="append", help="scale; repeat for several")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="data dir to keep (one scale only)")
    args = parser.parse_args()
    print(
        f"# {platform.node()} {platform.machine()} cpus={os.cpu_count()} python={platform.python_version()}"
    )
    print("| orders | step | wall time | peak memory | result |\n|---|---|---|---|---|")
    for n in args.orders or [10_000]:
        bench(n, args.seed, args.keep)


if __name__ == "__main__":
    main()
