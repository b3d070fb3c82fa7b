"""Benchmark: parser throughput for the DCSA, parcel and X12 (214 and 210) feeds.

    .venv/bin/python benchmarks/parsers.py [--orders 20000] [--seed 1] [--repeat 3]

Two kinds of input, parsed in this process (no loader, no DuckDB):

* the generator's own files for ``--orders`` orders (as they land: several carriers, real
  shapes, the planted mess included; a file the parser rejects as a whole is counted, not
  timed);
* two large single files built from the test fixtures: 50,000 DCSA events in one JSON array
  (~30 MB) and 10,000 DHL parcel shipments x 10 events (~25 MB). These were timed unit tests
  once (``test_a_large_*_file_parses_in_about_a_second``); the tests now check only that every
  row is parsed, and the speed is measured here.

Each input is parsed ``--repeat`` times; the best time is reported (the machine is shared).
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from generator import generate
from ingestion.parsers import dcsa, parcel, x12
from ingestion.parsers.base import MalformedFileError, ParsedFile

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

#: format -> (landing folder, file glob, parser)
FORMATS: dict[str, tuple[str, str, Callable[[Path], ParsedFile]]] = {
    "DCSA T&T (JSON)": ("carrier_events/dcsa", "*.json", dcsa.parse),
    "parcel tracking (JSON)": ("carrier_events/parcel", "*.json", parcel.parse),
    "X12 214 (status)": ("carrier_events/x12_214", "*.edi", x12.parse_214),
    "X12 210 (invoice)": ("carrier_invoices/x12_210", "*.edi", x12.parse_210),
}


def best_of(parse: Callable[[Path], ParsedFile], paths: list[Path], repeat: int):
    """(best seconds over `repeat` passes, rows parsed, files parsed, files rejected whole)."""
    best, rows, parsed, malformed = float("inf"), 0, 0, 0
    for _ in range(repeat):
        rows, parsed, malformed = 0, 0, 0
        started = time.perf_counter()
        for path in paths:
            try:
                result = parse(path)
            except MalformedFileError:
                malformed += 1
                continue
            parsed += 1
            rows += result.rows.height
        best = min(best, time.perf_counter() - started)
    return best, rows, parsed, malformed


def line(name: str, source: str, paths: list[Path], result) -> str:
    seconds, rows, parsed, malformed = result
    mb = sum(p.stat().st_size for p in paths) / 1e6
    return (
        f"| {name} | {source} | {parsed}"
        + (f" (+{malformed} malformed)" if malformed else "")
        + f" | {rows:,} | {mb:,.1f} | {seconds:,.2f} s | {rows / seconds:,.0f} | {mb / seconds:,.1f} |"
    )


def large_files(tmp: Path) -> dict[str, Path]:
    event = json.loads((FIXTURES / "dcsa" / "v22_events.json").read_text())[0]
    big_dcsa = tmp / "big_dcsa.json"
    big_dcsa.write_text(json.dumps([event | {"eventID": str(i)} for i in range(50_000)]))
    doc = json.loads((FIXTURES / "parcel" / "dhl.json").read_text())
    scan = doc["shipments"][0]["events"][0]
    doc["shipments"] = [
        {"shipmentTrackingNumber": str(i), "events": [scan] * 10} for i in range(10_000)
    ]
    big_parcel = tmp / "big_parcel.json"
    big_parcel.write_text(json.dumps(doc))
    return {"DCSA T&T (JSON)": big_dcsa, "parcel tracking (JSON)": big_parcel}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="generator scale")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="passes per input; best counts")
    args = parser.parse_args()
    print(
        f"# {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
        f"python={platform.python_version()}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="waybill-bench-parsers-"))
    try:
        started = time.perf_counter()
        generate(tmp / "landing", args.orders, args.seed, progress=False)
        print(f"# generated {args.orders:,} orders in {time.perf_counter() - started:.1f} s")
        print(
            "| format | input | files | rows | MB | best time | rows/s | MB/s |\n"
            "|---|---|---|---|---|---|---|---|"
        )
        for name, (folder, pattern, parse) in FORMATS.items():
            paths = sorted((tmp / "landing" / folder).glob(pattern))
            source = f"generator, {args.orders:,} orders"
            print(line(name, source, paths, best_of(parse, paths, args.repeat)), flush=True)
        for name, path in large_files(tmp).items():
            parse = FORMATS[name][2]
            print(line(name, "one large file", [path], best_of(parse, [path], args.repeat)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
