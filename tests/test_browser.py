"""End to end in a real browser: `waybill dashboard` on the generated data set, driven by
Playwright on Debian's chromium (no Playwright browser download), one screenshot per page: into
a temporary directory, or into docs/screenshots/ (the images docs/dashboard.md shows) only with
WAYBILL_UPDATE_SCREENSHOTS=1, so a test run leaves the checkout as it was."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from waybill.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
PAGES = {
    "overview": "Overview",
    "carriers": "Carrier scorecards",
    "shipments": "Shipment explorer",
    "exceptions": "Exceptions and alerts",
    "finance": "Finance and reconciliation",
    "quality": "Data quality",
    "workbench": "SQL workbench",
}

pytestmark = [
    pytest.mark.slow,
    # CI must run it (.ci/run installs chromium); elsewhere a machine without it skips
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="needs Debian's chromium (.ci/run installs it)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started with start_new_session=True and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dashboard exited with {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("dashboard did not come up")


@pytest.fixture(scope="module")
def dashboard(pipeline_run, tmp_path_factory):
    """`waybill dashboard` as a user starts it, on a free port, on the generated data."""
    port = free_port()
    env = os.environ | {"WAYBILL_DATA_DIR": str(pipeline_run["data_dir"])}
    env.pop("WAYBILL_USERS_FILE", None)
    # the server's output goes to a file: an unread pipe fills up and blocks the server
    log = (tmp_path_factory.mktemp("dashboard") / "dashboard.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "waybill.cli", "dashboard", "--no-auth", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        # `waybill dashboard` execs streamlit (same pid); stopping the group as well is harmless.
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, proc)
        yield {"url": url, "snapshot": pipeline_run["settings"].snapshot}
    finally:
        stop_group(proc)
        log.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """Where screenshots go: docs/screenshots/ only when asked to update them."""
    if os.environ.get("WAYBILL_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield b
        b.close()


def settle(page) -> None:
    """Wait until Streamlit finished the script run and Plotly drew every chart."""
    page.wait_for_selector("[data-testid=stApp]")
    page.wait_for_timeout(500)
    # Streamlit marks the app element while the script runs.
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=90_000)
    charts = page.locator("[data-testid=stPlotlyChart]")
    for i in range(charts.count()):
        charts.nth(i).scroll_into_view_if_needed()
        charts.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(600)
    page.evaluate("window.scrollTo(0, 0)")


def shot(page, name: str, directory: Path) -> None:
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def snapshot_rows(snapshot: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_page_opens_a_carrier_and_a_shipment_click_through_and_an_export_downloads(
    dashboard, browser, screenshots
):
    page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    for path, title in PAGES.items():
        page.goto(f"{dashboard['url']}/{'' if path == 'overview' else path}")
        settle(page)
        page.get_by_role("heading", name=title).first.wait_for()
        assert page.locator("[data-testid=stException]").count() == 0, path
        shot(page, path, screenshots)

    # Click a carrier: its scorecard replaces the default one.
    page.goto(f"{dashboard['url']}/carriers")
    settle(page)
    page.get_by_role("radio", name="FEDEX", exact=True).click()
    settle(page)
    page.get_by_role("heading", name="FEDEX - FedEx").wait_for()
    shot(page, "carriers_fedex", screenshots)

    # Click a shipment: search by its order, the timeline and raw events appear.
    order_id, shipment_id = snapshot_rows(
        dashboard["snapshot"],
        """select l.order_id, l.shipment_id from staging.stg_oms__shipment_lines as l
        inner join marts.fct_shipments as s on s.shipment_id = l.shipment_id
        where s.exception_count > 0 order by l.shipment_id limit 1""",
    )[0]
    page.goto(f"{dashboard['url']}/shipments")
    settle(page)
    box = page.get_by_label("Order, shipment, tracking number or carrier reference")
    box.fill(order_id)
    box.press("Enter")
    settle(page)
    page.get_by_role("heading", name=shipment_id).first.wait_for()
    assert page.get_by_text("Exceptions on this shipment").count() == 1
    shot(page, "shipment_timeline", screenshots)

    # Download the alerts export and check it against the snapshot.
    page.goto(f"{dashboard['url']}/exceptions")
    settle(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download all").first.click()
    content = Path(info.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert rows, "the export is empty"
    assert {"alert_type", "shipment_id", "age_hours"} <= set(rows[0])
    open_shipments = {
        r[0]
        for r in snapshot_rows(
            dashboard["snapshot"],
            "select shipment_id from marts.fct_shipments where delivered_at is null",
        )
    }
    assert {r["shipment_id"] for r in rows} <= open_shipments
    ages = [float(r["age_hours"]) for r in rows]
    assert ages == sorted(ages, reverse=True)
    assert page.get_by_text(f"{len(rows)} alerts").count() >= 1
    assert not errors, errors
    page.close()


def test_screenshots_are_written_for_the_docs(screenshots):
    # Runs after the browser test in file order; the docs link to these files.
    if not any(screenshots.glob("*.png")):
        pytest.skip("the browser test did not run")
    for name in PAGES:
        assert (screenshots / f"{name}.png").stat().st_size > 10_000, name
