"""How long each stage of a finished pipeline run took, from the Dagster event log.

Plain functions for the CLI's benchmark (``waybill bench``); Dagster stays inside
``orchestration/``.
"""

from __future__ import annotations

from pathlib import Path

#: Pipeline steps by stage, in run order: a step belongs to the first stage whose prefix it has.
STAGES = (
    ("ingest", ("raw__",)),
    ("raw checks", ("raw_feed_checks",)),
    ("dbt build", ("dbt_models",)),
    ("mart checks", ("mart_checks",)),
    ("publish", ("serving__",)),
    ("exports", ("exports__",)),
)


def stage_of(step_key: str) -> str:
    for stage, prefixes in STAGES:
        if step_key.startswith(prefixes):
            return stage
    return "other"


def stage_seconds(dagster_home: Path, run_id: str | None = None) -> tuple[str, dict[str, float]]:
    """(run id, seconds per stage): the sum of each stage's steps' start-to-end times in run
    ``run_id`` (default: the newest run; skipped steps count 0), plus "run" for the whole run."""
    import dagster as dg
    from dagster import DagsterEventType

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        if run_id is None:
            run_id = instance.get_runs(limit=1)[0].run_id
        records = instance.get_records_for_run(
            run_id,
            of_type={
                DagsterEventType.STEP_START,
                DagsterEventType.STEP_SUCCESS,
                DagsterEventType.STEP_FAILURE,
            },
        ).records
        started: dict[str, float] = {}
        out = {stage: 0.0 for stage, _ in STAGES}
        for record in records:
            entry = record.event_log_entry
            if entry.dagster_event.event_type == DagsterEventType.STEP_START:
                started[entry.step_key] = entry.timestamp
            elif entry.step_key in started:
                stage = stage_of(entry.step_key)
                out[stage] = out.get(stage, 0.0) + entry.timestamp - started.pop(entry.step_key)
        stats = instance.get_run_stats(run_id)
        out["run"] = (stats.end_time or 0.0) - (stats.start_time or 0.0)
        return run_id, out
    finally:
        instance.dispose()
