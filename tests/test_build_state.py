"""Nothing new, nothing done: what makes a run rebuild (waybill/build_state.py). The whole
pipeline's skip is tested end to end in test_pipeline_e2e.py."""

from __future__ import annotations

import shutil

import duckdb
import pytest

import waybill.build_state as build_state
from ingestion.warehouse import ensure_schema
from waybill.settings import DBT_PROJECT_DIR


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the dbt project the fingerprint reads, so a test can edit it."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(build_state, "DBT_PROJECT_DIR", copy)
    return copy


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(c)
    yield c
    c.close()


def log_a_file(con, load_id: int, status: str = "LOADED") -> None:
    con.execute(
        "insert into meta.load_log (load_id, run_id, feed, source_file, file_sha256, file_bytes, "
        "status, rows_read, rows_loaded, rows_quarantined, started_at, finished_at) values "
        "(?, 'r', 'returns', 'landing/returns/x.csv', 'sha', 1, ?, 1, 1, 0, now()::timestamp, "
        "now()::timestamp)",
        [load_id, status],
    )


def publish(con, run_id: str) -> None:
    """What a run does: the dbt step records its inputs, the publish step marks them."""
    build_state.record_build_inputs(con, run_id)
    assert build_state.record_published(con, run_id) is not None


def test_a_publish_without_a_whole_build_in_its_run_marks_nothing(project, con, tmp_path):
    snapshot = tmp_path / "serving.duckdb"
    snapshot.write_bytes(b"")
    log_a_file(con, 1)
    assert build_state.record_published(con, "publish-only") is None
    assert build_state.up_to_date(con, snapshot)[0] is False


def test_inputs_that_arrive_between_the_build_and_the_publish_are_built_next_time(
    project, con, tmp_path
):
    snapshot = tmp_path / "serving.duckdb"
    snapshot.write_bytes(b"")
    log_a_file(con, 1)
    build_state.record_build_inputs(con, "run-1")
    log_a_file(con, 2)  # another run's ingest step, between this run's dbt and publish
    build_state.record_published(con, "run-1")
    assert build_state.up_to_date(con, snapshot)[0] is False


def test_the_snapshot_is_up_to_date_only_for_the_inputs_it_was_built_from(project, con, tmp_path):
    snapshot = tmp_path / "serving.duckdb"
    log_a_file(con, 1)
    assert build_state.up_to_date(con, snapshot)[0] is False  # never published
    publish(con, "run-1")
    assert build_state.up_to_date(con, snapshot)[0] is False  # no snapshot file
    snapshot.write_bytes(b"")
    assert build_state.up_to_date(con, snapshot)[0] is True
    assert build_state.published_by(con, "run-1") and not build_state.published_by(con, "run-2")

    log_a_file(con, 2, status="FAILED")  # even a failed file is news: the load log is published
    assert build_state.up_to_date(con, snapshot)[0] is False
    publish(con, "run-2")
    assert build_state.up_to_date(con, snapshot)[0] is True

    seed = next((project / "seeds").glob("map_*.csv"))
    seed.write_text(seed.read_text() + "\n")  # an edited mapping seed
    assert build_state.up_to_date(con, snapshot)[0] is False
    publish(con, "run-3")
    (project / "dbt_project.yml").write_text(
        (project / "dbt_project.yml")
        .read_text()
        .replace("alert_as_of: null", "alert_as_of: '2026-01-01'")
    )  # an edited var
    assert build_state.up_to_date(con, snapshot)[0] is False


def test_a_warehouse_of_another_layout_version_is_rebuilt(project, con, tmp_path, monkeypatch):
    snapshot = tmp_path / "serving.duckdb"
    snapshot.write_bytes(b"")
    publish(con, "old")
    assert build_state.up_to_date(con, snapshot)[0] is True
    monkeypatch.setattr(build_state, "SCHEMA_VERSION", build_state.SCHEMA_VERSION + 1)
    assert build_state.up_to_date(con, snapshot)[0] is False
