"""The dashboard keeps serving while `waybill run` rewrites the warehouse and republishes the
snapshot (DESIGN.md section 7): readers never block the writer, and never see an error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data
from tests.test_browser import free_port, stop_group, wait_healthy
from waybill.settings import PROJECT_ROOT, load_settings

APP = str(Path(__file__).parent.parent / "dashboards" / "app.py")


@pytest.mark.slow
def test_the_dashboard_keeps_serving_while_the_pipeline_republishes(
    pipeline_run, tmp_path, monkeypatch
):
    src = pipeline_run["data_dir"]
    for name in ("landing", "warehouse", "serving"):
        shutil.copytree(src / name, tmp_path / name)
    settings = load_settings(tmp_path)
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WAYBILL_USERS_FILE", raising=False)
    monkeypatch.setenv("WAYBILL_DASHBOARD_NO_AUTH", "1")  # no users: open only with --no-auth
    before = data.snapshot_info()["published_at"]

    env = os.environ | {"WAYBILL_DATA_DIR": str(tmp_path)}
    env.pop("DAGSTER_HOME", None)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "waybill.cli", "dashboard", "--no-auth", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, server)
        # output to a file, not a pipe: nobody reads a pipe while the loop below runs, and a
        # full pipe buffer would block the run (and this loop) forever
        log_path = tmp_path / "run.log"
        log = log_path.open("w")
        run = subprocess.Popen(
            # nothing new in the landing zone: --full-refresh makes the run republish
            [sys.executable, "-m", "waybill.cli", "run", "--quiet", "--full-refresh"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        renders, reads, seen = 0, 0, set()
        while run.poll() is None:
            # What every page does: short read-only queries on the snapshot...
            seen.add(data.snapshot_info()["published_at"])
            assert data.order_kpis(data.NO_FILTERS)["orders_due"] > 0
            reads += 1
            # ...a whole page run, and the server answering.
            at = AppTest.from_file(APP, default_timeout=60).run()
            assert not at.exception, at.exception
            renders += 1
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
                assert r.status == 200
            time.sleep(0.2)
        log.close()
        out = log_path.read_text()
        assert run.returncode == 0, out[-4000:]
    finally:
        stop_group(server)

    after = data.snapshot_info()["published_at"]
    assert after > before, "the run republished the snapshot"
    assert reads >= 3 and renders >= 3, (reads, renders)
    assert settings.snapshot.exists()
    assert not list(settings.serving_dir.glob(".*.tmp*")), "no half-written snapshot left behind"
    # Every read saw a whole snapshot: the old one or the new one, never anything else.
    assert seen <= {before, after} and before in seen, seen
