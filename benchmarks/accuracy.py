"""Accuracy at scale: does the pipeline find what the generator planted?

    .venv/bin/python benchmarks/accuracy.py --orders 100000 [--seed 1] [--data-dir DIR]

Generates ``--orders`` orders and runs the pipeline (each as its own process, skipped when
``--data-dir`` already holds a run), then prints, against the generator's truth:

* per carrier, the scorecard's on-time delivery rate (sum of numerators over sum of
  denominators of ``rpt_carrier_scorecard``) next to the on-time share the generator recorded
  (``manifest.json``: deliveries on or before the planned window's end) and the probability it
  was configured with; the difference from the recorded share is the pipeline's error, the one
  from the probability adds sampling noise and the censoring of late deliveries still in
  transit at the as-of time; likewise the carrier-controllable on-time rate (late deliveries
  the generator blamed on the shipper or consignee count as on time) and the damage rate;
* the freight audit per planted problem (recall) and over everything it flagged (precision),
  judged as tests/test_finance.py judges it (``generator.truth``).

The Markdown it prints is what docs/benchmarks.md shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import truth  # noqa: E402


def run_step(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd[2:])} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return time.perf_counter() - t0


def scorecard_vs_manifest(warehouse: Path, manifest: dict) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = {
            code: rest
            for code, *rest in con.execute(
                """select carrier_code,
                    sum(on_time_delivery_numerator), sum(on_time_delivery_denominator),
                    sum(on_time_delivery_controllable_numerator),
                    sum(on_time_delivery_controllable_denominator),
                    sum(damage_numerator), sum(damage_denominator)
                from marts.rpt_carrier_scorecard group by 1"""
            ).fetchall()
        }
    finally:
        con.close()
    rows = []
    for code, c in sorted(manifest["carriers"].items()):
        num, den, c_num, c_den, d_num, d_den = got.get(code, (0,) * 6)
        rows.append(
            {
                "carrier": code,
                "mode": c["mode"],
                "delivered": c["delivered"],
                "scored": den,
                "configured": c["configured"]["p_on_time"],
                "recorded": ratio(c["on_time_delivered"], c["delivered"]),
                "scorecard": ratio(num, den),
                "controllable_recorded": ratio(c["on_time_controllable_delivered"], c["delivered"]),
                "controllable_scorecard": ratio(c_num, c_den),
                "damage_recorded": ratio(c["damaged"], c["picked_up"]),
                "damage_scorecard": ratio(d_num, d_den),
            }
        )
    return rows


def ratio(num, den) -> float | None:
    return num / den if den else None


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}"


def pp(a, b) -> str:
    return "n/a" if a is None or b is None else f"{100 * (a - b):+.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, help="keep the run here (reused if present)")
    args = parser.parse_args()
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="waybill-accuracy-"))).resolve()
    env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    waybill = [sys.executable, "-m", "waybill.cli"]
    landing, warehouse = data_dir / "landing", data_dir / "warehouse" / "waybill.duckdb"
    if not (landing / "manifest.json").exists():
        s = run_step(
            [
                *waybill,
                "generate",
                "--orders",
                str(args.orders),
                "--seed",
                str(args.seed),
                "--quiet",
            ],
            env,
        )
        print(f"generate: {s:,.0f} s", flush=True)
    if not warehouse.exists():
        s = run_step([*waybill, "run", "--quiet"], env)
        print(f"run: {s:,.0f} s", flush=True)
    manifest = json.loads((landing / "manifest.json").read_text())
    print(f"\ndata dir {data_dir}\n")

    print(
        "| carrier | mode | delivered | scored | configured p | recorded | scorecard "
        "| scorecard - recorded (pp) | scorecard - configured (pp) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = scorecard_vs_manifest(warehouse, manifest)
    for r in rows:
        print(
            f"| {r['carrier']} | {r['mode']} | {r['delivered']:,} | {r['scored']:,} "
            f"| {r['configured']:.3f} | {pct(r['recorded'])} % | {pct(r['scorecard'])} % "
            f"| {pp(r['scorecard'], r['recorded'])} | {pp(r['scorecard'], r['configured'])} |"
        )
    print(
        "\n| carrier | controllable on-time: recorded | scorecard | diff (pp) "
        "| damage: recorded | scorecard | diff (pp) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['carrier']} | {pct(r['controllable_recorded'])} % "
            f"| {pct(r['controllable_scorecard'])} % "
            f"| {pp(r['controllable_scorecard'], r['controllable_recorded'])} "
            f"| {pct(r['damage_recorded'])} % | {pct(r['damage_scorecard'])} % "
            f"| {pp(r['damage_scorecard'], r['damage_recorded'])} |"
        )

    scores = truth.audit_scores(truth.audited_against_truth(warehouse, landing))
    print("\n| planted problem | invoices planted | found with that status |")
    print("|---|---:|---:|")
    for kind, k in scores["per_kind"].items():
        print(f"| {kind} | {k['planted']:,} | {k['found']:,} |")
    precision = scores["precision"]
    print(
        f"\ninvoices audited {scores['invoices']:,}; planted {scores['planted']:,}, found "
        f"{scores['found']:,} (recall {scores['found'] / max(scores['planted'], 1):.2%}); "
        f"flagged {scores['flagged']:,}, of them right {scores['flagged_right']:,} (precision "
        f"{'n/a' if precision is None else f'{precision:.2%}'}); sent but not audited "
        f"{scores['not_audited']:,}, audited but never sent {scores['audited_not_sent']:,}"
    )


if __name__ == "__main__":
    main()
