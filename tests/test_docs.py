"""Docs generated from data stay in step with it, and show every constraint the catalog holds."""

from pathlib import Path

import pytest

from studio import catalog
from studio.management.commands.catalog_docs import operations_table, render

ROOT = Path(__file__).resolve().parent.parent
MODELS = list(catalog.MODELS.values())


def test_models_doc_matches_the_catalog():
    assert (ROOT / "docs" / "models.md").read_text() == render(), "run: python manage.py catalog_docs > docs/models.md"


def test_providers_doc_has_the_catalogs_operations_table():
    text = (ROOT / "docs" / "providers.md").read_text()
    table = text.split("<!-- operations-table -->\n", 1)[1].split("\n<!-- /operations-table -->", 1)[0]
    assert table == operations_table(), (
        "copy the table printed by `python manage.py catalog_docs` into docs/providers.md"
    )


def section(model_id: str) -> str:
    """The part of models.md about one model."""
    return render().split(f"### `{model_id}` — ", 1)[1].split("\n### ", 1)[0]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_each_models_section_shows_its_constraints(model):
    text = section(model.id)
    for size in model.sizes:
        assert f"{size.aspect} {size.width}×{size.height}" in text
    assert all(quality in text for quality in model.qualities)
    assert (f"0–{model.seed_max:,}" if model.seed else "Seed | not taken") in text
    assert f"up to {model.max_prompt_chars:,} characters" in text
    for option in model.options:
        assert f"| `{option.name}` | {option.kind.value} |" in text
        assert all(f"`{choice}`" in text for choice in option.choices)
        if option.only_with:
            assert f"only with `{option.only_with.option}`" in text
    for rule in model.rules:
        assert f"`{rule.option}` {' or '.join(rule.values)} needs `{rule.needs.option}`" in text
    for source in model.sources:
        assert source in text
    if model.size_rule:
        assert f"multiples of {model.size_rule.step}" in text or model.size_rule.step == 1
    if model.upscale:
        assert " or ".join(f"{f}×" for f in model.upscale.factors) in text
        assert f"input at most {model.upscale.max_input_pixels:,} pixels" in text
    assert all(kind in text for kind in model.control_kinds)
    if model.max_references:
        assert f"up to {model.max_references} beside the edited image" in text
    assert ("Retired | yes" in text) == model.retired


def test_gpt_image_2s_free_size_rule_is_spelled_out():
    text = section("gpt-image-2")
    assert "both sides multiples of 16, at most 3840 px a side, 655,360–8,294,400 pixels" in text
    assert "aspect ratio from 1:3 to 3:1; for generations and edits" in text


def test_stability_v2_rule_and_seed_are_spelled_out():
    text = section("stable-image-core")
    assert "at least 64 px a side, at most 9,437,184 pixels, aspect ratio from 1:2.5 to 2.5:1" in text
    assert "0–4,294,967,294" in text and "4,294,967,295" not in text
    assert "| `output_format` | choice | `png`, `jpeg` |" in section("sd3.5-large")
