"""Dagster definitions load, and the asset graph is the one we meant to build."""

from __future__ import annotations

import os
from pathlib import Path

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.txt"


def asset_graph_lines() -> list[str]:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys))
        lines.append(f"{key.to_user_string()} [{node.group_name}] <- {parents}")
    return lines


def test_definitions_load_with_the_pipeline_job_schedule_and_sensor(dbt_manifest):
    from orchestration.definitions import defs

    assert defs.resolve_job_def("pipeline") is not None
    assert defs.resolve_schedule_def("daily_pipeline").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor") is not None


def test_every_warehouse_writer_is_in_the_single_duckdb_pool(dbt_manifest):
    from orchestration.definitions import defs
    from orchestration.resources import WAREHOUSE_POOL

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert node.pools == {WAREHOUSE_POOL}, key


def test_the_asset_graph_matches_the_snapshot(dbt_manifest):
    """Update with WAYBILL_UPDATE_SNAPSHOTS=1 after an intended change, and review the diff."""
    lines = asset_graph_lines()
    if os.environ.get("WAYBILL_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text("\n".join(lines) + "\n")
    assert SNAPSHOT.exists(), "no snapshot: run with WAYBILL_UPDATE_SNAPSHOTS=1 and commit it"
    assert lines == SNAPSHOT.read_text().splitlines()


def test_lineage_runs_from_every_landing_folder_through_raw_and_staging_to_the_snapshot(
    dbt_manifest,
):
    from ingestion.contracts import FEEDS
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string(): k for k in graph.get_all_asset_keys()}
    snapshot_parents = {p.to_user_string() for p in graph.get(keys["serving/snapshot"]).parent_keys}
    for feed in FEEDS.values():
        raw = graph.get(keys[f"raw/{feed.table}"])
        assert {p.to_user_string() for p in raw.parent_keys} == {f"landing/{feed.name}"}
        staging = [c.to_user_string() for c in raw.child_keys]
        assert staging and all(s.startswith("staging/") for s in staging), feed.name
        assert set(staging) <= snapshot_parents


def test_the_sensor_waits_for_a_change_to_settle_then_launches_once():
    from orchestration.defs.automation import next_sensor_step

    launch, cursor = next_sensor_step(None, "A")  # first look at new files: wait
    assert not launch
    launch, cursor = next_sensor_step(cursor, "B")  # still changing (upload in progress): wait
    assert not launch
    launch, cursor = next_sensor_step(cursor, "B")  # unchanged for one interval: run
    assert launch
    launch, cursor = next_sensor_step(cursor, "B")  # nothing new: no second run
    assert not launch


def test_the_instance_file_limits_the_warehouse_pool_and_runs_to_one(tmp_path):
    import yaml

    from orchestration.instance import write_instance_yaml

    config = yaml.safe_load(write_instance_yaml(tmp_path).read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1


def test_every_suite_is_an_asset_check_and_blocking_ones_gate_the_publish_step(dbt_manifest):
    """Raw-feed suites run between the loads and dbt, mart suites between dbt and publishing;
    a suite with an error-severity expectation is a blocking check."""
    import dagster as dg

    from expectations.suites import all_suites
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for suite in all_suites():
        key = dg.AssetCheckKey(dg.AssetKey(suite.asset.split("/")), suite.name)
        assert key in graph.asset_check_keys, key
        assert graph.get_check_spec(key).blocking == suite.blocking, key

    deps = defs.resolve_job_def("pipeline").graph.dependency_structure

    def upstream(node: str) -> set[str]:
        return {
            o.node_name
            for outs in deps.input_to_upstream_outputs_for_node(node).values()
            for o in outs
        }

    assert "raw_feed_checks" in upstream("dbt_models")
    assert "mart_checks" in upstream("serving__snapshot")
    assert defs.resolve_schedule_def("daily_data_quality").job_name == "data_quality"


def test_the_daily_data_quality_job_runs_every_suite_and_stores_the_results(
    dbt_manifest, tmp_path, monkeypatch
):
    """On a warehouse with one loaded feed and no marts yet: raw suites run (the customs
    contract passes, feeds never delivered warn), mart suites are skipped, nothing blocks."""
    import dagster as dg
    import duckdb

    from ingestion.load import load_landing
    from orchestration.definitions import defs
    from waybill.settings import load_settings

    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    settings = load_settings()
    settings.ensure_dirs()
    folder = settings.landing / "customs"
    folder.mkdir(parents=True)
    (folder / "c.csv").write_text(
        "entry_number,shipment_id,entry_date,import_country,currency,customs_value,duty_amount,"
        "import_tax_amount,is_tax_recoverable\nE1,S1,2026-10-01,DE,EUR,100.00,5.00,19.00,true\n"
    )
    with duckdb.connect(str(settings.warehouse)) as con:
        load_landing(con, settings.landing)

    result = defs.resolve_job_def("data_quality").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            """select asset, check_name, bool_and(passed), max(note) from meta.dq_results
            where run_id = ? group by all""",
            [result.run_id],
        ).fetchall()
    state = {(a, c): (ok, note) for a, c, ok, note in rows}
    from expectations.suites import all_suites

    assert set(state) == {(s.asset, s.name) for s in all_suites()}
    assert state[("raw/customs_entries", "contract")] == (True, None)
    assert state[("raw/customs_entries", "delivery")][0] is True
    assert state[("raw/orders", "delivery")][0] is False  # never delivered: a warning
    assert state[("marts/fct_shipments", "pickup_not_after_delivery")][1].startswith("skipped")
