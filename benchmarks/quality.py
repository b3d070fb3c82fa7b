"""Benchmark: seconds per data-quality suite on a copy of a warehouse, optionally inflated.

    .venv/bin/python benchmarks/quality.py WAREHOUSE.duckdb [--inflate 100]

Copies the warehouse to a temporary file, multiplies every raw table's rows by --inflate (to
see the cost at scale without generating a large data set), runs every suite once and prints
one line per suite plus the total. Results go into docs/data-quality.md ("Cost").
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from expectations.core import max_rows, run_suite
from expectations.results import ensure_dq_tables
from expectations.suites import all_suites
from ingestion.contracts import FEEDS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("--inflate", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(args.warehouse, copy)
        con = duckdb.connect(str(copy))
        ensure_dq_tables(con)
        if args.inflate > 1:
            for feed in FEEDS.values():
                con.execute(
                    f"insert into raw.{feed.table} select t.* from raw.{feed.table} t, "
                    f"range({args.inflate - 1})"
                )
        total = 0.0
        for suite in all_suites():
            t0 = time.perf_counter()
            outcome = run_suite(con, suite)
            seconds = time.perf_counter() - t0
            total += seconds
            print(f"{suite.key:<55} rows={outcome.rows_validated:>8,} {seconds:6.2f} s")
        print(f"total {total:.1f} s for {len(all_suites())} suites (sample cap {max_rows():,})")


if __name__ == "__main__":
    main()
