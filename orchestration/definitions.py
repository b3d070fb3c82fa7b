"""Everything Dagster knows about waybill, from landing files to the published snapshot."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.automation import (
    daily_schedule,
    landing_sensor,
    notify_on_failure,
    pipeline_job,
)
from orchestration.defs.dbt import dbt_models, dbt_project
from orchestration.defs.exports import export_assets, exports_job, exports_schedule
from orchestration.defs.ingest import landing_specs, raw_assets
from orchestration.defs.publish import published_snapshot
from orchestration.defs.quality import daily_quality_schedule, data_quality_job, suite_checks
from orchestration.resources import WarehouseResource


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[*landing_specs, *raw_assets, dbt_models, published_snapshot, *export_assets],
        asset_checks=suite_checks,
        jobs=[pipeline_job, exports_job, data_quality_job],
        schedules=[daily_schedule, exports_schedule, daily_quality_schedule],
        sensors=[landing_sensor, notify_on_failure],
        resources={
            "warehouse": WarehouseResource(),
            # The dbt installed beside this Python: the venv's bin/ need not be on PATH.
            "dbt": DbtCliResource(
                project_dir=dbt_project, dbt_executable=str(Path(sys.executable).parent / "dbt")
            ),
        },
        # One step at a time inside a run: the steps share one DuckDB file.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
