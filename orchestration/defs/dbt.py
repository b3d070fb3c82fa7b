"""The dbt project as assets: staging (and later intermediate and marts) models and their tests."""

import os

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from waybill.build_state import (
    FULL_REFRESH_TAG,
    BuildPlan,
    plan_build,
    record_build,
    record_build_inputs,
    up_to_date,
)
from waybill.settings import DBT_PROJECT_DIR, load_settings

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Under `dagster dev` this parses the project so the manifest is fresh (profiles.yml needs the
# warehouse path for that); elsewhere the CLI (`waybill run`) and the tests prepare it, so
# importing this module does no work.
if os.environ.get("DAGSTER_IS_DEV_CLI"):
    for key, value in load_settings().dbt_env().items():
        os.environ.setdefault(key, value)
dbt_project.prepare_if_dev()


class Translator(DagsterDbtTranslator):
    """Group dbt assets by layer (staging, intermediate, marts), the folder they live in."""

    def get_group_name(self, dbt_resource_props) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "seed":
            return "reference"
        return fqn[1] if len(fqn) > 2 else "dbt"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=Translator(),
    pool=WAREHOUSE_POOL,
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """dbt build: seeds, models and their tests (tests appear as asset checks). Skipped when the
    published snapshot was built from exactly the warehouse's files and this project
    (waybill/build_state.py); then the mart checks, publish and exports are skipped too."""
    settings = warehouse.settings
    full_refresh_asked = context.run.tags.get(FULL_REFRESH_TAG) == "true"
    with warehouse.connect() as con:
        unchanged, inputs = up_to_date(con, settings.snapshot)
        if unchanged and not full_refresh_asked:
            context.log.info(
                f"nothing new since the last published snapshot (inputs {inputs[0]}): dbt "
                "build, mart checks, publish and exports skipped"
            )
            return
        if not context.is_subset:
            # Only a whole build counts: a subset picked in the UI leaves other models as they
            # were, so its publish must not mark the current inputs as built.
            record_build_inputs(con, context.run_id, inputs)
        plan = plan_build(con, inputs[1], force_full=full_refresh_asked)
        if context.is_subset and not plan.full_refresh:
            # What changed is tracked for whole builds only: a subset recomputes its
            # incremental models whole, and the next whole build is full (it cannot find the
            # old references the subset replaced; dbt_project/macros/incremental.sql).
            plan = BuildPlan(False, "a subset of the models", inputs[1])
        if plan.full_refresh or plan.since is None:
            # until this completes, the next build must be full (waybill/build_state.py)
            record_build(con, context.run_id, plan, finished=False)
    context.log.info(plan.describe())
    # profiles.yml reads the warehouse path from the environment (an absolute path: dbt runs
    # from a copy of the project).
    os.environ.update(settings.dbt_env())
    # Unit tests check the SQL against fixed fixtures, not the data: they run in the test suite
    # (tests/test_dbt_project.py) and CI, not again on every production build.
    args = ["build", "--exclude-resource-type", "unit_test", *plan.dbt_args()]
    yield from dbt.cli(args, context=context).stream()
    # Reached only when dbt succeeded (the stream raises otherwise): the next incremental build
    # starts after this one. A build that stopped half way is not recorded, so the next one
    # recomputes the same changes again.
    if not context.is_subset:
        with warehouse.connect() as con:
            record_build(con, context.run_id, plan)
