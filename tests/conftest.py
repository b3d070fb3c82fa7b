"""Shared fixtures: a prepared dbt manifest and one real pipeline run on generated feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from waybill.settings import PROJECT_ROOT, load_settings

E2E_ORDERS = 1500
E2E_SEED = 7


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory) -> Path:
    """The dbt manifest Dagster reads when definitions load (``dbt parse`` if stale)."""
    from waybill.dbt import ensure_manifest

    return ensure_manifest(load_settings(tmp_path_factory.mktemp("parse")))


def waybill(*args: str, data_dir: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the real ``waybill`` command as a user would, in its own process and data dir."""
    env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "waybill.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, dbt_manifest):
    """Generate a small data set into an empty data dir and run the whole pipeline once."""
    data_dir = tmp_path_factory.mktemp("e2e")
    gen = waybill(
        "generate",
        "--orders",
        str(E2E_ORDERS),
        "--seed",
        str(E2E_SEED),
        "--quiet",
        data_dir=data_dir,
    )
    assert gen.returncode == 0, gen.stdout + gen.stderr
    run = waybill("run", "--quiet", data_dir=data_dir)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-8000:]
    settings = load_settings(data_dir)
    manifest = json.loads((settings.landing / "manifest.json").read_text())
    return {"settings": settings, "manifest": manifest, "stdout": run.stdout, "data_dir": data_dir}
