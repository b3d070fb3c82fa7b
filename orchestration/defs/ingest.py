"""Landing folders and raw tables: one asset per feed, loaded by ``ingestion.load``."""

import dagster as dg

from ingestion.contracts import FEEDS, Feed
from ingestion.load import load_landing
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource


def landing_spec(feed: Feed) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=["landing", feed.name],
        description=f"Files partners drop into landing/{feed.folder}/ ({', '.join(feed.patterns)}). "
        f"{feed.description}",
        group_name="landing",
        kinds={"file"},
    )


def reconcile_counts(con, feed: Feed) -> tuple[bool, dict]:
    """Row conservation for a feed: per file, read = loaded + quarantined, and the raw table
    holds exactly the rows the load log says were loaded."""
    bad_files, logged_loaded = con.execute(
        """select count(*) filter (where rows_read <> rows_loaded + rows_quarantined),
                  coalesce(sum(rows_loaded), 0)
        from meta.load_log where feed = ?""",
        [feed.name],
    ).fetchall()[0]
    in_raw = con.execute(f"select count(*) from raw.{feed.table}").fetchall()[0][0]
    meta = {
        "files_not_reconciling": bad_files,
        "rows_loaded_per_log": logged_loaded,
        "rows_in_raw": in_raw,
    }
    return bad_files == 0 and logged_loaded == in_raw, meta


def build_raw_asset(feed: Feed) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", feed.table],
        name=None,
        deps=[landing_spec(feed).key],
        group_name="raw",
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
        description=f"raw.{feed.table}: the {feed.name} feed as received (contract-checked "
        "strings with lineage columns); rejected rows go to meta.quarantine.",
        check_specs=[
            dg.AssetCheckSpec(
                "rows_reconcile",
                asset=["raw", feed.table],
                blocking=True,
                description="rows read = loaded + quarantined per file; "
                "raw holds exactly the rows the load log reports",
            )
        ],
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as con:
            report = load_landing(
                con,
                warehouse.settings.landing,
                feeds=[feed.name],
                run_id=context.run_id,
                date_range=warehouse.settings.date_range,
                on_file=lambda r: context.log.info(
                    f"{feed.name}: {r.source_file}: {r.status} read={r.rows_read} "
                    f"loaded={r.rows_loaded} quarantined={r.rows_quarantined}"
                    + (f" error={r.error}" if r.error else "")
                ),
            )
            ok, check_meta = reconcile_counts(con, feed)
            total = con.execute(f"select count(*) from raw.{feed.table}").fetchall()[0][0]
        s = report.by_feed().get(feed.name, {})
        failed = [f"{r.source_file}: {r.error}" for r in report.files if r.status == "FAILED"]
        yield dg.MaterializeResult(
            metadata={
                "files_seen": s.get("files", 0),
                "files_skipped_already_loaded": s.get("skipped", 0),
                "files_failed": s.get("failed", 0),
                "rows_read": s.get("rows_read", 0),
                "rows_loaded": s.get("rows_loaded", 0),
                "rows_quarantined": s.get("rows_quarantined", 0),
                "dagster/row_count": total,
                "failed_files": dg.MetadataValue.md("\n".join(f"- {f}" for f in failed) or "none"),
            }
        )
        yield dg.AssetCheckResult(
            check_name="rows_reconcile",
            passed=ok,
            metadata=check_meta,
            severity=dg.AssetCheckSeverity.ERROR,
        )

    return _raw


landing_specs = [landing_spec(f) for f in FEEDS.values()]
raw_assets = [build_raw_asset(f) for f in FEEDS.values()]
