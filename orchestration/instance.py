"""The Dagster instance's settings file, written into ``<data_dir>/dagster_home``."""

from __future__ import annotations

from pathlib import Path

from orchestration.resources import WAREHOUSE_POOL

INSTANCE_YAML = f"""\
# Written by waybill; safe to edit. DuckDB allows a single writer per file, so every asset that
# writes the warehouse is in the pool '{WAREHOUSE_POOL}', limited to one at a time across runs.
concurrency:
  pools:
    default_limit: 1
  runs:
    # The sensor and the schedule may fire together: queue the second run, don't race it.
    max_concurrent_runs: 1
telemetry:
  enabled: false
"""


def write_instance_yaml(dagster_home: Path) -> Path:
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists():
        target.write_text(INSTANCE_YAML)
    return target
