"""Finance reconciliation reports written from the published snapshot to data/exports/ with
the run date in the name (docs/finance.md "Exports"): one asset per report, each in CSV, XLSX
and Parquet. They run at the end of the pipeline job and again on their own daily schedule."""

import datetime as dt

import dagster as dg

from orchestration.defs.publish import published_snapshot
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from waybill.exports import FORMATS, REPORTS, default_path, export


def _export_asset(report: str) -> dg.AssetsDefinition:
    spec = REPORTS[report]

    @dg.asset(
        name=report.replace("-", "_"),
        key_prefix=["exports"],
        deps=[published_snapshot],
        group_name="exports",
        kinds={"csv", "xlsx", "parquet"},
        description=f"{spec.title}: {spec.description}",
        # reads the snapshot, not the warehouse; in the pool so it never overlaps a publish
        pool=WAREHOUSE_POOL,
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings
        run_date = dt.datetime.now(dt.UTC).date()
        paths, rows = {}, 0
        for fmt in FORMATS:
            path, df = export(
                settings.snapshot,
                report,
                fmt,
                default_path(settings.exports, report, fmt, run_date),
            )
            paths[fmt], rows = str(path), df.height
        context.log.info(f"{report}: {rows} rows -> {', '.join(paths.values())}")
        return dg.MaterializeResult(
            metadata={"rows": rows, "run_date": run_date.isoformat(), **paths}
        )

    return _asset


export_assets = [_export_asset(report) for report in REPORTS]

exports_job = dg.define_asset_job(
    "exports",
    selection=dg.AssetSelection.groups("exports"),
    description="Write the finance reports from the published snapshot to data/exports/.",
)

exports_schedule = dg.ScheduleDefinition(
    name="daily_exports", job=exports_job, cron_schedule="0 6 * * *", execution_timezone="UTC"
)
