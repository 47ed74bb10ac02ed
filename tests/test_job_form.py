"""The studio's prompt form: fields parsed, the request built and checked by specs, errors on fields."""

import pytest

from studio import specs
from studio.forms import OPTION_PREFIX, JobForm

pytestmark = pytest.mark.django_db


def form(options=None, **overrides):
    data = {"model": "offline", "prompt": "a red fox in the snow", "quality": "standard", "n": "1", **overrides}
    for name, value in (options or {}).items():
        data[OPTION_PREFIX + name] = value
    return JobForm(data)


def errors(**overrides):
    f = form(**overrides)
    assert not f.is_valid()
    return f.errors


def test_a_valid_form_builds_a_request_with_the_catalog_size():
    f = form(size="1344x768", quality="high", n="2", seed="42")
    assert f.is_valid(), f.errors
    request = f.request
    assert (request.size.width, request.size.height, request.quality, request.n, request.seed) == (
        1344,
        768,
        "high",
        2,
        42,
    )
    assert request.size.aspect == "16:9"
    assert specs.to_params(request)["aspect_ratio"] == "16:9"


def test_blank_seed_picks_a_random_one_that_is_recorded():
    seeds = set()
    for _ in range(5):
        f = form()
        assert f.is_valid()
        seeds.add(f.request.seed)
    assert len(seeds) > 1


def test_empty_prompt_is_rejected_with_a_helpful_message():
    assert "Write a prompt" in errors(prompt="   ")["prompt"][0]


def test_over_long_prompt_names_the_limit():
    assert "at most 2000" in errors(prompt="x" * 2001)["prompt"][0]


def test_size_the_model_does_not_offer():
    message = errors(size="1792x1024")["size"][0]
    assert "does not offer 1792×1024" in message and "1024x1024" in message


def test_size_that_is_not_a_size():
    assert "not a size" in errors(size="big")["size"][0]


def test_quality_the_model_does_not_have():
    assert "no quality “hd”" in errors(quality="hd")["quality"][0]


@pytest.mark.parametrize("n", ["0", "5", "-1"])
def test_count_out_of_range(n):
    assert "between 1 and 4" in errors(n=n)["n"][0]


def test_unknown_model():
    assert "Unknown model “nope”" in errors(model="nope")["model"][0]


def test_disabled_model_says_why():
    assert "not available" in errors(model="dall-e-3", quality="hd")["model"][0]


def test_edit_only_model_is_refused_on_the_prompt_form(settings):
    settings.PROVIDER_SETTINGS["replicate"]["api_key"] = "k"
    assert "open an image in the editor" in errors(model="flux-fill-pro")["model"][0]


def test_seed_out_of_range():
    assert errors(seed=str(2**33))["seed"]


def test_option_out_of_range_and_bad_choice_go_on_their_fields(settings):
    settings.PROVIDER_SETTINGS["stability"]["api_key"] = "k"
    errs = errors(model="sdxl-1.0", options={"steps": "99", "sampler": "MAGIC"})
    assert "goes from 10 to 50" in errs["opt_steps"][0]
    assert "MAGIC" in errs["opt_sampler"][0]
    ok = form(model="sdxl-1.0", size="1024x1024", options={"steps": "20"}, negative_prompt="blurry")
    assert ok.is_valid(), ok.errors
    assert dict(ok.request.options) == {"cfg_scale": 7.0, "steps": 20, "sampler": "K_DPMPP_2M", "style_preset": "none"}


def test_transparent_background_with_jpeg_is_refused_on_the_background_field(settings):
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"
    errs = errors(
        model="gpt-image-1.5",
        size="1024x1024",
        quality="low",
        options={"background": "transparent", "output_format": "jpeg"},
    )
    assert "needs output_format png or webp" in errs["opt_background"][0]


def test_gpt_image_2_takes_a_free_size_on_its_grid(settings):
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"
    ok = form(model="gpt-image-2", size="2048x1152", quality="low")
    assert ok.is_valid(), ok.errors
    assert ok.request.size.aspect == "16:9"
    assert "multiples of 16" in errors(model="gpt-image-2", size="2050x1152", quality="low")["size"][0]
