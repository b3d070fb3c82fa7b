"""Keep the dbt manifest that Dagster reads at definition time in step with the project."""

from __future__ import annotations

import os
from pathlib import Path

from waybill.settings import DBT_PROJECT_DIR, Settings

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in _SOURCES:
        root = DBT_PROJECT_DIR / name
        paths = [root] if root.is_file() else root.rglob("*") if root.exists() else []
        for p in paths:
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    return newest


def manifest_is_stale(manifest: Path = MANIFEST) -> bool:
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime()


def ensure_manifest(settings: Settings, force: bool = False) -> Path:
    """Run ``dbt parse`` if the manifest is missing or older than the project's files."""
    if not force and not manifest_is_stale():
        return MANIFEST
    from dbt.cli.main import dbtRunner

    os.environ.update(settings.dbt_env())
    result = dbtRunner().invoke(
        [
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--quiet",
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return MANIFEST
