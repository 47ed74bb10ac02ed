"""Validation of a generation request against the catalog (shared by page, API and CLI)."""

import pytest

from studio.forms import JobForm, form_data_from_api

pytestmark = pytest.mark.django_db


def form(**overrides):
    payload = {"model": "offline", "prompt": "a red fox in the snow", **overrides}
    return JobForm(form_data_from_api(payload))


def errors(**overrides):
    f = form(**overrides)
    assert not f.is_valid()
    return f.errors


def test_a_valid_request_becomes_a_spec_with_catalog_size():
    f = form(aspect_ratio="16:9", quality="high", n=2, seed=42, options={})
    assert f.is_valid(), f.errors
    spec = f.spec()
    assert (spec.size.width, spec.size.height, spec.quality, spec.n, spec.seed) == (1344, 768, "high", 2, 42)
    assert spec.params["aspect_ratio"] == "16:9"


def test_blank_seed_picks_a_random_one_that_is_recorded():
    seeds = set()
    for _ in range(5):
        f = form()
        assert f.is_valid()
        seeds.add(f.spec().seed)
    assert len(seeds) > 1


def test_empty_prompt_is_rejected_with_a_helpful_message():
    assert "Write a prompt" in errors(prompt="   ")["prompt"][0]


def test_over_long_prompt_names_the_limit():
    assert "at most 2000" in errors(prompt="x" * 2001)["prompt"][0]


def test_size_the_model_does_not_offer():
    message = errors(size="1792x1024")["size"][0]
    assert "does not offer 1792x1024" in message and "1024x1024" in message


def test_unknown_aspect_ratio():
    assert "does not offer 5:7" in errors(aspect_ratio="5:7")["size"][0]


def test_quality_the_model_does_not_have():
    assert "no quality “hd”" in errors(quality="hd")["quality"][0]


@pytest.mark.parametrize("n", [0, 5, -1])
def test_count_out_of_range(n):
    assert "between 1 and 4" in errors(n=n)["n"][0]


def test_unknown_model():
    assert "Unknown model “nope”" in errors(model="nope")["model"][0]


def test_disabled_model_says_why():
    assert "not available" in errors(model="dall-e-3", quality="hd")["model"][0]


def test_unknown_option():
    assert "has no option wobble" in errors(options={"wobble": 1})["__all__"][0]


def test_seed_out_of_range():
    assert errors(seed=2**33)["seed"]


def test_option_out_of_range_and_bad_choice(settings, monkeypatch):
    from studio import providers

    monkeypatch.setitem(providers._IMPLEMENTED, "stability", object())
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "stability": {"api_key": "k", "base_url": "x"}}
    errs = errors(model="sdxl-1.0", options={"steps": 99, "sampler": "MAGIC"})
    assert "less than or equal to 50" in errs["opt_steps"][0]
    assert "MAGIC" in errs["opt_sampler"][0]
    ok = form(model="sdxl-1.0", options={"steps": 20}, negative_prompt="blurry")
    assert ok.is_valid(), ok.errors
    assert ok.spec().options == {"cfg_scale": 7.0, "steps": 20, "sampler": "K_DPMPP_2M", "style_preset": "none"}
