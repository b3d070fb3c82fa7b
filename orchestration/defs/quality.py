"""Great Expectations suites (``expectations/``) as Dagster asset checks, and the publish gate.

Every suite becomes one asset check on its asset, named after the suite (``contract``,
``delivery``, ``milestone_mapping_coverage``, ...). A suite with an error-severity expectation
is a *blocking* check: when it fails, Dagster does not run the assets downstream of the
checked asset, so ``serving/snapshot`` is not published and dashboards keep the last good
snapshot. Warnings are recorded and shown but block nothing.

The checks run in two steps of the pipeline job: the raw-feed suites after the loads (before
dbt), the mart suites after dbt (before publishing). The ``data_quality`` job runs the same
checks alone, on a daily schedule. Every evaluation appends to ``meta.dq_results``.

In a ``pipeline`` run a raw ``contract`` suite whose table received no new load since its last
completed evaluation is not validated again: that outcome is carried over and stored for this
run with a note (``expectations/carry_over.py``), so the gate sees the same verdict. The
``data_quality`` job and ``waybill run --full-refresh`` validate every suite again.
"""

import json

import dagster as dg

from expectations import carry_over
from expectations.core import Suite, SuiteOutcome
from expectations.results import ensure_dq_tables, export_results, store
from expectations.suites import mart_suites, raw_suites
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from waybill.build_state import FULL_REFRESH_TAG

#: The job that validates every suite again (its daily schedule is the second opinion on
#: outcomes carried over, e.g. after rows were changed in place outside the loader).
DATA_QUALITY_JOB = "data_quality"


def asset_key(suite: Suite) -> dg.AssetKey:
    return dg.AssetKey(suite.asset.split("/"))


def check_key(suite: Suite) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(asset_key(suite), suite.name)


def check_spec(suite: Suite) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        suite.name,
        asset=asset_key(suite),
        description=f"[{suite.severity}{', blocking' if suite.blocking else ''}] "
        f"{suite.description}",
        blocking=suite.blocking,
    )


def check_result(outcome: SuiteOutcome) -> dg.AssetCheckResult:
    suite = outcome.suite
    failed = [o for o in outcome.outcomes if not o.passed]
    metadata: dict = {
        "rows_validated": outcome.rows_validated,
        "expectations": len(outcome.outcomes),
        "failed_expectations": len(failed),
        "severity_in_definition": suite.severity,
    }
    if outcome.skipped:
        metadata["skipped"] = outcome.skipped
    if outcome.carried_over:
        metadata["carried_over"] = outcome.carried_over
    if failed:
        lines = []
        for o in failed:
            sample = json.dumps(o.failing_sample[:3], default=str) if o.failing_sample else ""
            lines.append(
                f"- **{o.expectation}** ({o.severity}) observed `{o.observed_value}` "
                f"threshold `{o.threshold}` {sample} {o.error or ''}"
            )
        metadata["failures"] = dg.MetadataValue.md("\n".join(lines))
        metadata["what_to_do"] = suite.remedy
    severity = (
        dg.AssetCheckSeverity.ERROR
        if outcome.failed_severity == "error"
        else dg.AssetCheckSeverity.WARN
    )
    return dg.AssetCheckResult(
        asset_key=asset_key(suite),
        check_name=suite.name,
        passed=outcome.passed,
        severity=severity,
        metadata=metadata,
    )


def may_carry_over(context: dg.AssetCheckExecutionContext) -> bool:
    """Carry unchanged outcomes over, except in the data_quality job, a full refresh, or with
    WAYBILL_DQ_CARRY_OVER=0."""
    return (
        carry_over.enabled()
        and context.run.job_name != DATA_QUALITY_JOB
        and context.run.tags.get(FULL_REFRESH_TAG) != "true"
    )


def build_suite_checks(suites: list[Suite], name: str, description: str):
    specs = [check_spec(s) for s in suites]

    @dg.multi_asset_check(
        specs=specs, name=name, description=description, can_subset=True, pool=WAREHOUSE_POOL
    )
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        selected = context.selected_asset_check_keys
        blocked = []
        carry = may_carry_over(context)
        with warehouse.connect() as con:
            ensure_dq_tables(con)
            for suite in suites:
                if check_key(suite) not in selected:
                    continue
                outcome = carry_over.evaluate(con, suite, context.run.run_id, carry=carry)
                store(con, outcome, context.run.run_id)
                if outcome.blocks_publication:
                    blocked.append(suite.key)
                context.log.info(
                    f"{suite.key}: {'passed' if outcome.passed else outcome.failed_severity}"
                    + (f" ({outcome.skipped})" if outcome.skipped else "")
                    + (f" ({outcome.carried_over})" if outcome.carried_over else "")
                )
                yield check_result(outcome)
            if blocked:
                # Publication stops: show the failure next to the snapshot readers use.
                export_results(con, warehouse.settings.serving_dir)
                context.log.error(
                    f"blocking data-quality failure(s): {', '.join(blocked)}; the snapshot is "
                    "not published (the last good one stays)"
                )

    return _checks


raw_feed_checks = build_suite_checks(
    raw_suites(),
    "raw_feed_checks",
    "Great Expectations suites on every raw feed: contract, last delivery, freshness.",
)
mart_checks = build_suite_checks(
    mart_suites(),
    "mart_checks",
    "Great Expectations suites on the marts: mapping coverage, timelines, row-count trends.",
)
suite_checks = [raw_feed_checks, mart_checks]

data_quality_job = dg.define_asset_job(
    DATA_QUALITY_JOB,
    selection=dg.AssetSelection.checks(*(check_key(s) for s in raw_suites() + mart_suites())),
    description="Run every Great Expectations suite against the warehouse as it is (no load, "
    "no dbt, no publish, no outcome carried over); results go to meta.dq_results.",
)

daily_quality_schedule = dg.ScheduleDefinition(
    name="daily_data_quality",
    job=data_quality_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)
