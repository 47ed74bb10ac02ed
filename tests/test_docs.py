"""Docs generated from data stay in step with it."""

from pathlib import Path

from studio.management.commands.catalog_docs import render

ROOT = Path(__file__).resolve().parent.parent


def test_models_doc_matches_the_catalog():
    assert (ROOT / "docs" / "models.md").read_text() == render(), "run: python manage.py catalog_docs > docs/models.md"


def test_providers_doc_has_the_catalogs_operations_table():
    from studio.management.commands.catalog_docs import operations_table

    text = (ROOT / "docs" / "providers.md").read_text()
    table = text.split("<!-- operations-table -->\n", 1)[1].split("\n<!-- /operations-table -->", 1)[0]
    assert table == operations_table(), (
        "copy the table printed by `python manage.py catalog_docs` into docs/providers.md"
    )
