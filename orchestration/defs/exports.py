"""Finance reconciliation reports written from the published snapshot to data/exports/ with
the snapshot's publication date in the name (docs/finance.md "Exports"): one asset per report,
each in CSV, XLSX and Parquet. They run at the end of the pipeline job and again on their own
daily schedule. They depend on serving/snapshot, so a run whose publication a blocking
data-quality check stopped skips them; the daily job after such a run re-writes the last good
snapshot's files under that snapshot's date, never under today's."""

import dagster as dg

from orchestration.defs.publish import published_snapshot
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from waybill.exports import REPORTS, scheduled_export


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
        done = scheduled_export(
            settings.snapshot, settings.exports, report, settings.export_xlsx_max_rows
        )
        paths = {fmt: str(p) for fmt, p in done["paths"].items()}
        context.log.info(f"{report}: {done['rows']} rows -> {', '.join(paths.values())}")
        return dg.MaterializeResult(
            metadata={
                "rows": done["rows"],
                "snapshot_date": done["snapshot_date"].isoformat(),
                "snapshot_run_id": done["snapshot_run_id"] or "",
                **paths,
            }
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
