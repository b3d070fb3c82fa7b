"""The dashboard renders from the published snapshot, and says what to do when there is none."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from ingestion.load import load_landing
from waybill.publish import publish_snapshot

APP = str(Path(__file__).parent.parent / "dashboards" / "app.py")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    return tmp_path


def test_without_a_snapshot_the_page_says_how_to_make_one(data_dir):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("No published snapshot yet" in i.value for i in at.info)


def test_the_page_shows_the_snapshot_counts(data_dir):
    folder = data_dir / "landing" / "returns"
    folder.mkdir(parents=True)
    (folder / "r.csv").write_text(
        "rma_number,order_id,line_number,quantity,reason,returned_at\n"
        "RMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n"
        "RMA2,O1,2,-4,DAMAGED,2026-10-01T10:00:00Z\n"
    )
    con = duckdb.connect(str(data_dir / "w.duckdb"))
    load_landing(con, data_dir / "landing")
    publish_snapshot(con, data_dir / "serving" / "waybill.duckdb", run_id="t")
    con.close()

    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows loaded"] == "1"
    assert metrics["Rows quarantined"] == "1"
    assert metrics["Unreadable files"] == "0"
