"""The feed docs are generated from the contracts and must not drift from them."""

from pathlib import Path

from ingestion.docs import render


def test_docs_feeds_md_is_the_rendering_of_the_contracts():
    committed = (Path(__file__).parent.parent / "docs" / "feeds.md").read_text()
    assert committed == render(), "regenerate: python -m ingestion.docs > docs/feeds.md"
