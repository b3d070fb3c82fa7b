"""Recovering from a `waybill run` that died (SIGKILL, power loss, OOM killer).

A run holds a slot of the ``duckdb_warehouse`` concurrency pool while a step writes the
warehouse. A process that is killed never gives its slot back and its run stays STARTED, so
the next run would wait for the pool forever ("Step still blocked by limit for pool").

Every `waybill run` therefore holds an exclusive lock file (``<dagster_home>/waybill-run.lock``)
for as long as it lives, and tags its Dagster run ``waybill/launched_by=cli``. The operating
system drops the lock when the process dies, however it dies. A new `waybill run` takes the
lock first (waiting while another `waybill run` is alive), so any run still tagged as a
running CLI run at that moment belongs to a dead process: it is marked failed and its pool
slots are freed. Runs started by the Dagster daemon (schedule, sensor) are left to Dagster's
own run monitoring.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLI_TAG = "waybill/launched_by"
CLI_TAGS = {CLI_TAG: "cli"}


@contextmanager
def cli_run_lock(dagster_home: Path) -> Iterator[None]:
    """Held for the whole `waybill run`; released by the OS if the process dies."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    fd = os.open(dagster_home / "waybill-run.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another `waybill run` is running on this data directory: waiting for it")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def release_dead_cli_runs(instance) -> list[str]:
    """Mark CLI runs left STARTED by a dead process as failed and free their pool slots. Call
    only while holding :func:`cli_run_lock`. Returns the run ids released."""
    import dagster as dg

    stuck = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[
                dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.CANCELING,
            ],
            tags=CLI_TAGS,
        )
    )
    released = []
    for run in stuck:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        instance.report_run_failed(
            run,
            message="the `waybill run` process running this died (killed or crashed); its "
            "warehouse pool slot was freed by the next `waybill run`",
        )
        released.append(run.run_id)
    return released
