"""Docs generated from data stay in step with it."""

from pathlib import Path

from studio.management.commands.catalog_docs import render

ROOT = Path(__file__).resolve().parent.parent


def test_models_doc_matches_the_catalog():
    assert (ROOT / "docs" / "models.md").read_text() == render(), "run: python manage.py catalog_docs > docs/models.md"
