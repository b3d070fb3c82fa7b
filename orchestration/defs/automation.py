"""The pipeline job, a daily schedule and a sensor that runs it when new files land."""

import hashlib

import dagster as dg

from ingestion.contracts import FEEDS
from ingestion.load import landing_entries
from waybill.notify import notify_operator
from waybill.recovery import CLI_TAG
from waybill.settings import load_settings

pipeline_job = dg.define_asset_job(
    "pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("landing"),
    description="Ingest every feed, dbt build (models and tests), publish the snapshot.",
)

daily_schedule = dg.ScheduleDefinition(
    name="daily_pipeline", job=pipeline_job, cron_schedule="0 2 * * *", execution_timezone="UTC"
)


def landing_fingerprint() -> str:
    """Names, sizes and modification times of every landing file: changes when a file lands."""
    landing = load_settings().landing
    parts = []
    for feed in FEEDS.values():
        for p in landing_entries(landing, feed):
            st = p.lstat()  # a link is reported by the loader, never followed
            parts.append(f"{p.relative_to(landing)}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def next_sensor_step(cursor: str | None, fingerprint: str) -> tuple[bool, str]:
    """(launch?, new cursor). A change must look the same on two evaluations in a row (one
    interval apart) before a run starts, so a file still being uploaded is not loaded half-way.
    The cursor is "<last seen>:<last launched>"."""
    seen, _, launched = (cursor or ":").partition(":")
    if fingerprint == launched:
        return False, f"{fingerprint}:{launched}"
    if fingerprint != seen:
        return False, f"{fingerprint}:{launched}"  # changed since last look: wait for it to settle
    return True, f"{fingerprint}:{fingerprint}"


@dg.sensor(
    job=pipeline_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def landing_sensor(context: dg.SensorEvaluationContext):
    """Starts the pipeline when the landing zone's content changed and then stayed the same for
    one evaluation interval (60 s). Partners can also upload as `_name` or `.name` and rename
    when done: the loader ignores such files."""
    fingerprint = landing_fingerprint()
    launch, cursor = next_sensor_step(context.cursor, fingerprint)
    context.update_cursor(cursor)
    if not launch:
        return dg.SkipReason("no settled new files in the landing zone")
    return dg.RunRequest(run_key=fingerprint)


@dg.run_failure_sensor(
    monitored_jobs=[pipeline_job],
    name="notify_operator_on_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="POST a failed pipeline run (a blocked publication fails the run too) to "
    "WAYBILL_ALERT_WEBHOOK. `waybill run` notifies by itself; this covers runs the daemon starts.",
)
def notify_on_failure(context: dg.RunFailureSensorContext):
    if context.dagster_run.tags.get(CLI_TAG):
        return  # `waybill run` notified already (waybill/cli.py)
    settings = load_settings()
    message = context.failure_event.message or "failed"
    notify_operator(
        settings.alert_webhook_url,
        "run_failed",
        f"pipeline run {context.dagster_run.run_id} failed: {message[:300]}; the last good "
        "snapshot stays published",
        {"run_id": context.dagster_run.run_id, "data_dir": settings.data_dir},
    )
