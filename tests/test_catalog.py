from decimal import Decimal

import pytest

from studio import catalog

SDXL_NINE = {
    "1024x1024",
    "1152x896",
    "896x1152",
    "1216x832",
    "832x1216",
    "1344x768",
    "768x1344",
    "1536x640",
    "640x1536",
}


@pytest.mark.parametrize("model", catalog.MODELS.values(), ids=lambda m: m.id)
def test_every_model_is_complete_and_consistent(model):
    assert model.provider in catalog.PROVIDERS
    assert model.sizes and model.qualities
    assert model.default_quality in model.qualities
    assert model.operations
    assert model.max_n >= 1
    for option in model.options:
        if option.kind == "choice":
            assert option.default in option.choices
        if option.kind in ("int", "float"):
            assert option.min <= option.default <= option.max
    for key in model.prices:
        assert key.split("/")[0] in model.qualities


def test_catalog_names_the_seed_models_and_their_successors():
    expected = {
        "offline", "gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini", "dall-e-3", "dall-e-2", "sdxl-1.0",
        "stable-image-ultra", "stable-image-core", "sd3.5-large", "flux-schnell", "flux-dev", "flux-pro",
        "flux-1.1-pro", "midjourney-v7", "midjourney-v6.1",
    }  # fmt: skip
    assert expected <= set(catalog.MODELS)


def test_sdxl_offers_exactly_its_nine_trained_sizes():
    assert {s.value for s in catalog.MODELS["sdxl-1.0"].sizes} == SDXL_NINE


def test_dall_e_3_sizes_qualities_and_styles():
    model = catalog.MODELS["dall-e-3"]
    assert {s.value for s in model.sizes} == {"1024x1024", "1792x1024", "1024x1792"}
    assert model.qualities == ("standard", "hd")
    assert model.option("style").choices == ("vivid", "natural")


def test_gpt_image_2_sizes_follow_its_rules():
    for size in catalog.MODELS["gpt-image-2"].sizes:
        assert size.width % 16 == 0 and size.height % 16 == 0
        assert 1 / 3 <= size.width / size.height <= 3
        assert size.width <= 3840 and size.height <= 3840


def test_price_prefers_the_size_specific_entry():
    model = catalog.MODELS["dall-e-3"]
    assert model.price("hd", "1792x1024") == Decimal("0.120")
    assert model.price("hd", "1024x1024") == Decimal("0.080")
    assert catalog.MODELS["gpt-image-2"].price("high", "1024x1024") is None


def test_offline_is_available_without_keys():
    assert catalog.availability(catalog.MODELS["offline"]).enabled


def test_models_of_unimplemented_providers_are_disabled_with_a_reason(monkeypatch):
    from studio import providers

    monkeypatch.delitem(providers._IMPLEMENTED, "stability")
    available = catalog.availability(catalog.MODELS["sdxl-1.0"])
    assert not available.enabled
    assert "not implemented" in available.reason


def test_models_whose_key_is_missing_say_which_variable_to_set():
    assert catalog.availability(catalog.MODELS["gpt-image-2"]) == catalog.Availability(False, "set OPENAI_API_KEY")


def test_a_configured_provider_still_needs_its_key(settings):
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "openai": {"api_key": "", "base_url": "x"}}
    assert catalog.availability(catalog.MODELS["gpt-image-2"]) == catalog.Availability(False, "set OPENAI_API_KEY")
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "openai": {"api_key": "sk-test", "base_url": "x"}}
    assert catalog.availability(catalog.MODELS["gpt-image-2"]).enabled


def test_aspect_of_finds_the_label_of_a_size():
    assert catalog.aspect_of("1344x768") == "16:9"
    assert catalog.aspect_of("3x3") == ""
