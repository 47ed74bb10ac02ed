"""The catalog's typed data: complete, consistent with itself and with the documented APIs."""

import importlib
import re
import typing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from openai.types import image_edit_params, image_generate_params, image_model

from studio import catalog, specs
from studio import pricing as pricing_module
from studio.catalog import Operation, OptionKind
from tests.factories import make_job
from tests.test_request_rules import option_allowed

size_label_migration = importlib.import_module("studio.migrations.0013_size_aspect_not_label")

MODELS = list(catalog.MODELS.values())
OPENAI = [m for m in MODELS if m.provider == "openai"]
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
WIRES = {
    "offline": catalog.OfflineWire,
    "openai": catalog.OpenAIWire,
    "stability": catalog.StabilityWire,
    "replicate": catalog.ReplicateWire,
    "midjourney": catalog.MidjourneyWire,
}


def each_model(test):
    return pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)(test)


@each_model
def test_every_model_is_complete_and_consistent(model):
    assert model.provider in catalog.PROVIDERS
    assert isinstance(model.wire, WIRES[model.provider])
    assert model.sizes and model.qualities and model.operations
    assert model.default_quality in model.qualities
    assert model.max_n >= 1
    assert model.seed == (model.seed_max is not None)
    for operation in model.operations:
        names = [o.name for o in model.options_for(operation)]
        assert len(set(names)) == len(names), f"an option is offered twice for {operation}"
    for key in model.pricing.per_image:
        quality, _, size = key.partition("/")
        assert quality in model.qualities
        assert not size or model.size(size), key
    assert set(model.pricing.credits) <= model.operations
    assert set(model.limits) <= model.operations
    for operation, limit in model.limits.items():
        assert 1 <= model.max_n_for(operation) <= model.max_n
        assert limit.negative_prompt is not True or model.negative_prompt, "a limit only takes away"
        assert limit.source or model.provider == "offline", f"{operation}'s limit needs a source"
    for option in model.options:
        assert option.unset is None or option.unset in option.choices


@each_model
def test_every_model_cites_where_its_limits_are_documented(model):
    if model.provider == "offline":
        return  # Atelier's own renderer: its limits are ours
    assert model.sources and all(source.strip() for source in model.sources)
    if model.size_rule and model.size_rule.source:
        assert model.size_rule.source in model.sources


@each_model
def test_every_option_is_typed_and_its_default_is_allowed(model):
    for option in model.options:
        assert isinstance(option.kind, OptionKind)
        assert option_allowed(option, option.default), option
        if option.kind in (OptionKind.INT, OptionKind.FLOAT):
            assert option.min < option.max and not option.choices
        if option.kind == OptionKind.CHOICE:
            assert option.choices and len(set(option.choices)) == len(option.choices)
        if option.operations is not None:
            assert option.operations <= model.operations


@each_model
def test_rules_between_options_name_options_and_values_the_model_has(model):
    def offered(option_name: str, values: tuple) -> None:
        option = model.option(option_name)
        assert option is not None, f"{model.id} has no option {option_name}"
        assert all(option_allowed(option, v) for v in values), (option_name, values)

    for rule in model.rules:
        offered(rule.option, rule.values)
        offered(rule.needs.option, rule.needs.values)
        assert model.option(rule.option).default not in rule.values, "the defaults must keep the rule"
    for option in model.options:
        if option.only_with:
            offered(option.only_with.option, option.only_with.values)


@each_model
def test_presets_keep_the_size_rule_where_the_model_takes_free_sizes(model):
    if model.free_generate:
        assert model.size_rule is not None
        for size in model.sizes:
            assert model.size_rule.problem(size.width, size.height) == "", size


@each_model
def test_capabilities_match_the_operations(model):
    assert bool(model.control_kinds) == (Operation.CONTROL in model.operations)
    assert (model.upscale is not None) == (Operation.UPSCALE in model.operations)
    if model.max_references:
        assert model.operations & {Operation.EDIT, Operation.INSTRUCT}
    if model.upscale:
        assert model.upscale.factors and all(f >= 2 for f in model.upscale.factors)
    if model.seed_max is not None:
        assert model.seed_max <= catalog.SEED_MAX


def _literals(annotation) -> set:
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    return set().union(*(_literals(a) for a in typing.get_args(annotation)))


SDK_GENERATE = typing.get_type_hints(image_generate_params.ImageGenerateParamsBase)
SDK_EDIT = typing.get_type_hints(image_edit_params.ImageEditParamsBase)
SDK_GENERATE_DOC = Path(image_generate_params.__file__).read_text()
SDK_EDIT_DOC = Path(image_edit_params.__file__).read_text()


@pytest.mark.parametrize("model", OPENAI, ids=lambda m: m.id)
def test_openai_models_and_settings_are_ones_the_sdk_documents(model):
    assert model.id in _literals(image_model.ImageModel)
    assert set(model.qualities) <= _literals(SDK_GENERATE["quality"])
    assert model.max_n <= 10  # "Must be between 1 and 10."
    for option in model.options:
        if option.name in SDK_GENERATE and option.kind == OptionKind.CHOICE:
            assert set(option.choices) <= _literals(SDK_GENERATE[option.name]), option.name
            if Operation.EDIT in model.operations and option.name in SDK_EDIT:
                assert set(option.choices) <= _literals(SDK_EDIT[option.name]), option.name
    if not model.free_generate:
        assert {s.value for s in model.sizes} <= _literals(SDK_GENERATE["size"])


def test_gpt_image_2_rule_is_the_documented_one():
    rule = catalog.GPT_IMAGE_2_RULE
    assert (rule.step, rule.max_ratio, rule.max_pixels, rule.min_pixels) == (16, 3.0, 3840 * 2160, 655_360)
    free = {m.id for m in OPENAI if m.free_generate}
    pinned = {"gpt-image-2-2026-04-21", "gpt-image-2.5-sunburst-2026-09-08", "gpt-image-2.5-flare-2026-09-08"}
    assert free == {"gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.5-flare"} | pinned
    assert all(replace(catalog.MODELS[m].size_rule, source="") == replace(rule, source="") for m in free)
    # The pixel bounds are documented for gpt-image-2 (OpenAI's guide, not the SDK); for the 2.5 pair
    # they are an assumption, and say so.
    assert "guides/image-generation" in rule.source and "655,360" in rule.source
    assert "assumed" in catalog.MODELS["gpt-image-2.5-flare"].size_rule.source


def test_only_gpt_image_2_5_has_xhigh_max_and_complexity():
    for model in OPENAI:
        is_2_5 = model.id.startswith("gpt-image-2.5-")
        assert ({"xhigh", "max"} <= set(model.qualities)) == is_2_5, model.id
        assert (model.option("complexity") is not None) == is_2_5, model.id


def test_retired_openai_models_are_for_compatible_servers_and_say_so():
    retired = {m.id for m in MODELS if m.retired}
    assert retired == {"gpt-image-1", "dall-e-2", "dall-e-3"}
    for model_id in retired:
        model = catalog.MODELS[model_id]
        assert "OpenAI-compatible" in model.label and "compatible servers only" in model.note


def test_transparent_background_needs_png_or_webp_on_every_gpt_image_model():
    for model in OPENAI:
        if model.option("background"):
            transparent = "transparent" in model.option("background").choices
            assert (catalog.TRANSPARENT_NEEDS_ALPHA in model.rules) == transparent
            assert model.option("output_compression").only_with.values == ("jpeg", "webp")


UNDOCUMENTED = ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst", "chatgpt-image-latest"]


@pytest.mark.parametrize("model_id", UNDOCUMENTED)
def test_models_the_sdk_only_names_get_only_what_it_says_of_every_gpt_image_model(model_id):
    model = catalog.MODELS[model_id]
    assert model_id in _literals(image_model.ImageModel)
    # Named for images.generate and images.edit alike.
    assert f"`{model_id}`" in SDK_GENERATE_DOC and f"`{model_id}`" in SDK_EDIT_DOC
    assert {s.value for s in model.sizes} == {"1024x1024", "1536x1024", "1024x1536"} and model.size_rule is None
    assert model.qualities == ("auto", "low", "medium", "high")
    assert {o.name: o.choices for o in model.options} == {
        "background": ("auto", "opaque"), "output_format": ("png", "webp", "jpeg"), "output_compression": (),
        "moderation": ("auto", "low"),
    }  # fmt: skip
    assert model.max_references == (15 if model_id == "chatgpt-image-latest" else 0)
    assert "SDK" in model.note


def test_unpublished_gpt_prices_are_the_highest_published_figure_for_the_size():
    published = [m for m in OPENAI if m.pricing.tokens and not m.retired and "xhigh" not in m.qualities]
    for size in ("1024x1024", "1536x1024", "1024x1536"):
        highest = max(m.pricing.image_price("high", size) for m in published)
        for model_id in UNDOCUMENTED:
            pricing = catalog.MODELS[model_id].pricing
            assert {pricing.image_price(q, size) for q in catalog.GPT_IMAGE_QUALITIES} == {highest}, size


def test_snapshots_are_their_models_pinned():
    for alias, dates in catalog.SNAPSHOTS.items():
        for date in dates:
            pinned = catalog.MODELS[f"{alias}-{date}"]
            assert pinned.id in _literals(image_model.ImageModel)
            assert replace(pinned, id=alias, label="", note="") == replace(catalog.MODELS[alias], label="", note="")


def test_catalog_names_the_seed_models_and_their_successors():
    expected = {
        "offline", "gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini", "dall-e-3", "dall-e-2", "sdxl-1.0",
        "stable-image-ultra", "stable-image-core", "sd3.5-large", "flux-schnell", "flux-dev", "flux-pro",
        "flux-1.1-pro", "midjourney-v7", "midjourney-v6.1", "gpt-image-2.5-sunburst", "gpt-image-2.5-flare",
        "flux-kontext-pro", "flux-kontext-max", "flux-2-pro", "flux-2-dev",
    }  # fmt: skip
    assert expected <= set(catalog.MODELS)


def test_instruct_is_offered_by_kontext_flux_2_and_gpt_image():
    instruct = {m.id for m in catalog.models_for(Operation.INSTRUCT)}
    assert {"flux-kontext-pro", "flux-kontext-max", "flux-2-pro", "flux-2-dev", "gpt-image-2"} <= instruct


def test_sdxl_offers_exactly_its_nine_trained_sizes():
    assert {s.value for s in catalog.MODELS["sdxl-1.0"].sizes} == SDXL_NINE


def test_dall_e_3_sizes_qualities_and_styles():
    model = catalog.MODELS["dall-e-3"]
    assert {s.value for s in model.sizes} == {"1024x1024", "1792x1024", "1024x1792"}
    assert model.qualities == ("standard", "hd")
    assert model.option("style").choices == ("vivid", "natural")


def test_formats_per_model():
    def formats(model_id):
        return set(catalog.MODELS[model_id].option("output_format").choices)

    assert "webp" not in formats("sd3.5-large") and "webp" in formats("stable-image-core")
    assert formats("flux-1.1-pro-ultra") == {"jpg", "png"}
    assert formats("flux-pro") == {"webp", "jpg", "png"}


def test_flux_pro_and_1_1_pro_offer_no_21_9():
    for model_id in ("flux-pro", "flux-1.1-pro"):
        aspects = {s.aspect for s in catalog.MODELS[model_id].sizes}
        assert not aspects & {"21:9", "9:21"}
    assert "21:9" in {s.aspect for s in catalog.MODELS["flux-dev"].sizes}


def test_stability_v2_seeds_stop_one_short_of_v1():
    assert catalog.MODELS["sdxl-1.0"].seed_max == 4_294_967_295
    for model_id in ("stable-image-ultra", "stable-image-core", "sd3.5-large", "sd3.5-medium"):
        assert catalog.MODELS[model_id].seed_max == 4_294_967_294


def test_sizes_carry_their_aspect_ratio():
    assert catalog.Size.of(1536, 864).aspect == "16:9"
    assert catalog.Size.of(1000, 1500).aspect == "2:3"
    sdxl = catalog.MODELS["sdxl-1.0"]
    assert sdxl.size("1344x768").aspect == "16:9" and sdxl.size("3x3") is None
    assert sdxl.size_for_aspect("4:3").value == "1152x896"


@each_model
def test_every_presets_aspect_is_a_ratio_close_to_its_shape(model):
    for size in model.sizes:
        parsed = specs.parse_aspect(size.aspect)
        assert parsed is not None, f"{size.aspect!r} is not a ratio"
        assert abs(size.ratio / (parsed[0] / parsed[1]) - 1) < 0.06, size  # SDXL's 1152×896 is "4:3"


def test_the_4k_preset_is_16_9_named_4k():
    four_k = catalog.MODELS["gpt-image-2"].size("3840x2160")
    assert (four_k.aspect, four_k.name, four_k.label) == ("16:9", "4K", "16:9 4K · 3840×2160")
    request = specs.build(model="gpt-image-2", prompt="a harbour", size="3840x2160", available=False)
    assert request.size == four_k and specs.to_params(request)["aspect_ratio"] == "16:9"
    # Asked by its ratio, 16:9 is the everyday preset; the name is no ratio to ask for.
    assert specs.build(model="gpt-image-2", prompt="x", aspect_ratio="16:9", available=False).size.value == "1536x864"
    with pytest.raises(specs.Invalid) as refused:
        specs.build(model="gpt-image-2", prompt="x", aspect_ratio="16:9 4K", available=False)
    assert "4K" not in refused.value.errors["size"][0].split("Choose one of:")[1]


@pytest.mark.django_db
def test_rows_that_stored_the_4k_name_as_their_ratio_still_read_and_are_migrated():
    legacy = {"version": 2, "width": 3840, "height": 2160, "aspect_ratio": "16:9 4K", "quality": "high", "n": 1,
              "seed": 3, "options": {}}  # fmt: skip
    job = make_job(model_id="gpt-image-2", params=legacy)
    request = specs.from_job(job)
    assert request.size == catalog.MODELS["gpt-image-2"].size("3840x2160") and request.size.aspect == "16:9"
    other = make_job(model_id="gpt-image-2", params={**legacy, "width": 1536, "height": 864, "aspect_ratio": "16:9"})
    size_label_migration.forwards(django_apps, None)
    job.refresh_from_db()
    other.refresh_from_db()
    assert job.params == {**legacy, "aspect_ratio": "16:9"} and other.params["aspect_ratio"] == "16:9"
    assert specs.from_job(job) == request


def test_price_prefers_the_size_specific_entry():
    model = catalog.MODELS["dall-e-3"]
    assert model.pricing.image_price("hd", "1792x1024") == Decimal("0.120")
    assert model.pricing.image_price("hd", "1024x1024") == Decimal("0.080")
    gpt_image_2 = catalog.MODELS["gpt-image-2"].pricing
    assert gpt_image_2.image_price("high", "1536x1024") == Decimal("0.165")
    assert gpt_image_2.image_price("high", "2048x1152") == Decimal("0.211")


@each_model
def test_every_built_in_model_has_a_dated_sourced_price_for_every_operation(model):
    pricing = model.pricing
    assert pricing is not None
    assert re.fullmatch(r"20\d\d-\d\d-\d\d", pricing.checked)
    assert pricing.source.startswith("https://") or model.provider == "offline"
    for operation in model.operations:
        for quality in model.qualities:
            params = {"width": model.sizes[0].width, "height": model.sizes[0].height, "quality": quality, "n": 1}
            assert pricing_module.estimate(model.id, operation.value, params) is not None, (operation, quality)


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
