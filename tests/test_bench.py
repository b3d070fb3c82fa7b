"""The measuring parts of `waybill bench` (the benchmark itself is run by hand: docs/benchmarks.md)."""

from __future__ import annotations

import json
import sys

from waybill.bench import measure, remove_increment


def test_peak_memory_counts_the_whole_process_tree():
    # a parent holding ~150 MB that starts a child holding ~250 MB while it still holds its own
    child = "b = bytearray(250 * 2**20); import time; time.sleep(1.0)"
    parent = (
        "import subprocess, sys; a = bytearray(150 * 2**20); "
        f"subprocess.run([sys.executable, '-c', {child!r}])"
    )
    m = measure([sys.executable, "-c", parent], env={}, interval=0.05)
    assert m.returncode == 0
    assert m.peak_mb > 390  # the sum, not the larger of the two
    assert m.seconds >= 1.0


def test_a_reused_landing_zone_drops_an_earlier_increment(tmp_path):
    landing = tmp_path / "landing"
    (landing / "orders").mkdir(parents=True)
    base = landing / "orders" / "orders.csv"
    base.write_text("base")
    added = landing / "orders" / "orders_update01.csv"
    added.write_text("increment")
    (landing / "_truth" / "update01").mkdir(parents=True)
    manifest = {"feeds": {"orders": {"files": [{"name": "orders/orders_update01.csv"}]}}}
    (landing / "manifest_update01.json").write_text(json.dumps(manifest))
    remove_increment(landing)
    assert base.exists() and not added.exists()
    assert not (landing / "manifest_update01.json").exists()
    assert not (landing / "_truth" / "update01").exists()
