"""The feed docs are generated from the contracts and must not drift from them."""

import re
from pathlib import Path

import yaml

from ingestion.docs import render


def test_docs_feeds_md_is_the_rendering_of_the_contracts():
    committed = (Path(__file__).parent.parent / "docs" / "feeds.md").read_text()
    assert committed == render(), "regenerate: python -m ingestion.docs > docs/feeds.md"


def test_every_var_of_the_kpi_and_report_marts_is_documented_in_kpis_md_with_its_default():
    root = Path(__file__).parent.parent
    defaults = yaml.safe_load((root / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    marts = root / "dbt_project" / "models" / "marts"
    used = {
        name
        for path in [*marts.glob("kpi_*.sql"), *marts.glob("rpt_*.sql")]
        for name in re.findall(r"var\('([a-z0-9_]+)'\)", path.read_text())
    }
    assert {"carrier_scorecard_weights", "alert_as_of", "eta_freeze_hours"} <= used
    kpis = (root / "docs" / "kpis.md").read_text()
    for name in used:
        assert name in defaults, f"{name} has no default in dbt_project.yml"
        rows = [line for line in kpis.splitlines() if f"`{name}`" in line and line.startswith("|")]
        assert rows, f"var {name} has no row in a docs/kpis.md parameter table"
        default = defaults[name]
        if isinstance(default, (int, float, str)) and not isinstance(default, bool):
            assert any(f"| {default} |" in row or f", {default}" in row for row in rows), name
