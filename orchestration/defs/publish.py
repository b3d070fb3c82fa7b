"""The published snapshot: the only thing dashboards and analysts read."""

import dagster as dg

from expectations.results import blocking_failures
from orchestration.defs.dbt import dbt_models
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from waybill.build_state import publish_since, record_published
from waybill.publish import publish_snapshot


@dg.asset(
    key=["serving", "snapshot"],
    deps=[dbt_models],
    group_name="serving",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def published_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Copies staging, marts, reference and meta into serving/waybill.duckdb under a temporary
    name, then renames it into place: readers see the old snapshot or the new, never half.
    After an incremental build that follows the published one, the temporary file starts as a
    copy of the published snapshot and only the recomputed rows of incremental tables change."""
    settings = warehouse.settings
    with warehouse.connect() as con:
        # The gate, stated again here: Dagster already skips this step when a blocking check
        # failed upstream; a failure recorded in meta.dq_results for this run also stops it.
        failures = blocking_failures(con, context.run_id)
        if failures:
            raise dg.Failure(
                description="blocking data-quality check(s) failed; the last good snapshot "
                "stays published: "
                + "; ".join(f"{a} {c} {e} observed {o}" for a, c, e, o in failures[:10])
            )
        since = publish_since(con, context.run_id)
        info = publish_snapshot(con, settings.snapshot, run_id=context.run_id, since=since)
        context.log.info(
            "published the rows this incremental build recomputed (loads after "
            f"{since}) into a copy of the last snapshot"
            if since is not None
            else "published every table"
        )
        inputs = record_published(con, context.run_id)
    return dg.MaterializeResult(
        metadata={
            "inputs_fingerprint": inputs or "not recorded (no whole dbt build in this run)",
            "path": str(settings.snapshot),
            "published_at": info["published_at"],
            "tables": info["tables"],
        }
    )
