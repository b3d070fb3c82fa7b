"""Crash safety: SIGKILL the pipeline in the middle of a load and in the middle of the dbt
build, then re-run. The published snapshot is never half-updated (byte-identical to the last
good one and readable after each crash), and the re-run ends with exactly the counts of an
uninterrupted run over the same files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import waybill
from waybill.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

ORDERS = 200
SEED = 5
#: Feeds held back from the first delivery, so the crashed run has files to load.
LATE_FOLDERS = ("carrier_events/x12_214", "carrier_events/parcel")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def background_run(data_dir: Path, log: Path) -> Iterator[subprocess.Popen]:
    """`waybill run --quiet` in the background, its output to ``log``; killed if the test
    leaves the block before it ended."""
    env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "waybill.cli", "run", "--quiet"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_and_kill(data_dir: Path, when: Callable[[str], bool], timeout: float = 900) -> list[str]:
    """Start `waybill run` in its own process group; SIGKILL the whole group (Dagster and the
    dbt it started) as soon as an output line satisfies ``when``. Returns the lines seen."""
    env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "waybill.cli", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    killed = threading.Event()

    def watch():
        for line in proc.stdout:
            lines.append(line)
            if not killed.is_set() and when(line):
                killed.set()
                os.killpg(proc.pid, signal.SIGKILL)

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(timeout=10)
    assert killed.is_set(), "the run ended before the kill point:\n" + "".join(lines[-40:])
    assert proc.returncode == -signal.SIGKILL
    return lines


def counts(data_dir: Path) -> dict:
    """What a run produced: per file (by name) its load outcome, rows per raw table and per
    published staging/marts/reference table."""
    out: dict = {}
    with duckdb.connect(str(data_dir / "warehouse" / "waybill.duckdb"), read_only=True) as con:
        out["load_log"] = sorted(
            (feed, Path(src).name, status, read, loaded, quarantined)
            for feed, src, status, read, loaded, quarantined in con.execute(
                "select feed, source_file, status, rows_read, rows_loaded, rows_quarantined "
                "from meta.load_log"
            ).fetchall()
        )
        out["quarantine"] = con.execute("select count(*) from meta.quarantine").fetchall()[0][0]
        raw = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        ]
        out["raw"] = {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in raw}
    with duckdb.connect(str(data_dir / "serving" / "waybill.duckdb"), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('staging', 'marts', 'reference')"
        ).fetchall()
        out["published"] = {
            f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0]
            for s, t in tables
        }
    return out


def snapshot_state(data_dir: Path) -> tuple[str, str]:
    snapshot = data_dir / "serving" / "waybill.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        [(run_id,)] = con.execute("select run_id from meta.snapshot_info").fetchall()
        # Readable through and through: every table answers a count.
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall():
            con.execute(f'select count(*) from "{s}"."{t}"').fetchall()
    return sha(snapshot), run_id


def test_a_killed_load_and_a_killed_dbt_build_leave_the_snapshot_and_rerun_to_the_same_counts(
    tmp_path,
    dbt_manifest,  # parsed once here: the two runs side by side must not both re-parse
):
    source = tmp_path / "source"
    gen = waybill(
        "generate",
        "--orders",
        str(ORDERS),
        "--seed",
        str(SEED),
        "--quiet",
        "--out",
        str(source),
        data_dir=tmp_path / "unused",
    )
    assert gen.returncode == 0, gen.stderr

    # The reference: every file, one uninterrupted run. It has its own data folder and Dagster
    # instance, so it runs beside the crash sequence (on the second core) and is read at the end.
    ref = tmp_path / "ref"
    shutil.copytree(source, ref / "landing")
    with background_run(ref, tmp_path / "ref.log") as reference:
        # A first delivery without two event feeds, published.
        crash = tmp_path / "crash"
        shutil.copytree(
            source, crash / "landing", ignore=shutil.ignore_patterns("x12_214", "parcel")
        )
        first = waybill("run", "--quiet", data_dir=crash)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        good = snapshot_state(crash)

        # The held-back feeds arrive; the run is killed once a file of them has loaded (the next
        # file's transaction is open or about to be).
        for folder in LATE_FOLDERS:
            shutil.copytree(source / folder, crash / "landing" / folder)
        run_and_kill(
            crash, lambda line: ("x12_214:" in line or "parcel:" in line) and " read=" in line
        )
        assert snapshot_state(crash) == good

        # Again, killed in the middle of the dbt build this time.
        run_and_kill(crash, lambda line: " of " in line and "OK created" in line)
        assert snapshot_state(crash) == good

        # The re-run finishes the job: the same counts as the uninterrupted run, nothing twice.
        final = waybill("run", "--quiet", data_dir=crash)
        assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
        assert reference.wait(timeout=900) == 0, (tmp_path / "ref.log").read_text()[-6000:]
    expected = counts(ref)
    assert snapshot_state(crash) != good
    got = counts(crash)
    assert got["load_log"] == expected["load_log"]
    assert got["raw"] == expected["raw"]
    assert got["quarantine"] == expected["quarantine"]
    assert got["published"] == expected["published"]
    assert not list((crash / "serving").glob(".*.tmp"))
