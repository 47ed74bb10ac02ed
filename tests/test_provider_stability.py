"""Stability provider over `requests` against the local v1 + v2beta emulator."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from studio import catalog, imaging
from studio.catalog import Operation
from studio.providers import stability as provider
from studio.providers.base import ErrorKind, GenerationRequest, ProviderError
from tests.emulators.base import Fault
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db


def request(model="sdxl-1.0", operation=Operation.GENERATE, **overrides):
    m = catalog.MODELS[model]
    fields = {
        "operation": operation,
        "model": m,
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "",
        "width": 1344,
        "height": 768,
        "quality": "standard",
        "n": 1,
        "seed": 42,
        "options": {o.name: o.default for o in m.options},
    }
    fields.update(overrides)
    return GenerationRequest(**fields)


def size(data):
    return PILImage.open(io.BytesIO(data)).size


def test_sdxl_text_to_image_sends_weighted_prompts_and_settings(stability_emulator):
    options = {"cfg_scale": 9.0, "steps": 20, "sampler": "K_EULER", "style_preset": "photographic"}
    result = provider.generate(request(negative_prompt="blurry", n=2, options=options))
    body = stability_emulator.requests[-1].json
    assert body["text_prompts"] == [{"text": "a lighthouse at dusk", "weight": 1}, {"text": "blurry", "weight": -1}]
    assert (body["width"], body["height"], body["samples"], body["seed"]) == (1344, 768, 2, 42)
    assert body["cfg_scale"] == 9.0 and body["steps"] == 20 and body["sampler"] == "K_EULER"
    assert body["style_preset"] == "photographic"
    assert [i.seed for i in result.images] == [42, 43] and size(result.images[0].data) == (1344, 768)


def test_sdxl_style_preset_none_is_not_sent(stability_emulator):
    provider.generate(request())
    assert "style_preset" not in stability_emulator.requests[-1].json


def test_sdxl_image_to_image_turns_strength_into_image_strength(stability_emulator):
    provider.generate(request(operation=Operation.REMIX, image=png_bytes(64, 64), strength=0.25))
    sent = stability_emulator.requests[-1]
    assert sent.fields["init_image_mode"] == "IMAGE_STRENGTH" and sent.fields["image_strength"] == "0.750"
    assert sent.fields["text_prompts[0][text]"] == "a lighthouse at dusk" and "init_image" in sent.files


def test_sdxl_masking_sends_white_where_the_image_changes(stability_emulator):
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 16))
    provider.generate(request(operation=Operation.EDIT, image=png_bytes(64, 64), mask=imaging.png_bytes(mask)))
    sent = stability_emulator.requests[-1]
    assert sent.fields["mask_source"] == "MASK_IMAGE_WHITE"
    pixels = np.asarray(PILImage.open(io.BytesIO(sent.files["mask_image"])).convert("L"))
    assert (pixels[:16] == 255).all() and (pixels[16:] == 0).all()


def test_sdxl_esrgan_upscale_doubles(stability_emulator):
    result = provider.generate(request(operation=Operation.UPSCALE, image=png_bytes(64, 48), factor=2))
    assert size(result.images[0].data) == (128, 96)


@pytest.mark.parametrize(
    ("model", "path"), [("stable-image-ultra", "ultra"), ("stable-image-core", "core"), ("sd3.5-large-turbo", "sd3")]
)
def test_stable_image_generate_is_multipart_with_the_aspect_ratio(stability_emulator, model, path):
    result = provider.generate(request(model, width=1344, height=768, negative_prompt="text", n=2))
    sent = stability_emulator.requests[-1]
    assert sent.path == f"/v2beta/stable-image/generate/{path}"
    assert (
        sent.headers["content-type"].startswith("multipart/form-data") and sent.headers["accept"] == "application/json"
    )
    assert sent.fields["aspect_ratio"] == "16:9" and sent.fields["negative_prompt"] == "text"
    assert [i.seed for i in result.images] == [42, 43]
    if path == "sd3":
        assert sent.fields["model"] == "sd3.5-large-turbo"


def test_stable_image_inpaint_and_fast_and_creative_upscale(stability_emulator, monkeypatch):
    mask = PILImage.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))
    provider.generate(
        request("stable-image-core", Operation.EDIT, image=png_bytes(32, 32), mask=imaging.png_bytes(mask))
    )
    assert stability_emulator.requests[-1].path == "/v2beta/stable-image/edit/inpaint"
    fast = provider.generate(request("stable-image-core", Operation.UPSCALE, image=png_bytes(32, 24), factor=4))
    assert size(fast.images[0].data) == (128, 96)
    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)
    creative = provider.generate(request("stable-image-ultra", Operation.UPSCALE, image=png_bytes(32, 24), factor=4))
    polls = [r for r in stability_emulator.requests if r.path.startswith("/v2beta/results/")]
    assert len(polls) >= 2 and size(creative.images[0].data) == (128, 96)


def test_content_filtered_results_are_content_policy_failures(stability_emulator):
    for model in ("sdxl-1.0", "stable-image-core"):
        with pytest.raises(ProviderError) as exc:
            provider.generate(request(model, prompt="something forbidden"))
        assert exc.value.kind == ErrorKind.CONTENT_POLICY


def test_bad_sizes_are_refused_with_stabilitys_message(stability_emulator):
    with pytest.raises(ProviderError) as exc:
        provider.generate(request(width=1000, height=1000))
    assert exc.value.kind == ErrorKind.INVALID_REQUEST and "not an allowed SDXL dimension" in exc.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault(status=401, body={"id": "x", "name": "unauthorized", "message": "Invalid API key"}), ErrorKind.AUTH),
        (
            Fault(status=403, body={"id": "x", "name": "content_moderation", "errors": ["content moderation flagged"]}),
            ErrorKind.CONTENT_POLICY,
        ),
        (
            Fault(
                status=429,
                body={"id": "x", "name": "rate_limit", "errors": ["slow down"]},
                headers={"retry-after": "2"},
            ),
            ErrorKind.RATE_LIMITED,
        ),
        (Fault(status=500, body={"id": "x", "name": "internal", "errors": ["boom"]}), ErrorKind.UNAVAILABLE),
        (Fault(malformed=True), ErrorKind.UNAVAILABLE),
    ],
)
def test_faults_map_to_error_kinds(stability_emulator, fault, kind):
    stability_emulator.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == kind
    if kind == ErrorKind.RATE_LIMITED:
        assert exc.value.retry_after == 2


def test_timeouts(stability_emulator, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    stability_emulator.faults.append(Fault(delay=1.0))
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.TIMEOUT


def test_outpaint_sends_the_original_and_how_far_to_extend(stability_emulator):
    canvas = PILImage.new("RGB", (96, 72), (0, 0, 0))
    canvas.paste((200, 10, 10), (16, 8, 80, 72))  # original 64x64 at left 16, top 8
    extend = {"left": 16, "top": 8, "right": 16, "bottom": 0}
    result = provider.generate(request("stable-image-core", Operation.OUTPAINT, image=imaging.png_bytes(canvas),
                                       width=96, height=72, edit_settings={"extend": extend}))  # fmt: skip
    sent = stability_emulator.requests[-1]
    assert sent.path == "/v2beta/stable-image/edit/outpaint"
    assert (sent.fields["left"], sent.fields["right"], sent.fields["up"], sent.fields["down"]) == ("16", "16", "8", "0")
    original = PILImage.open(io.BytesIO(sent.files["image"]))
    assert original.size == (64, 64) and original.getpixel((10, 10)) == (200, 10, 10)
    assert size(result.images[0].data) == (96, 72)


def test_erase_sends_the_mask_white_where_painted(stability_emulator):
    mask = PILImage.new("L", (32, 32), 0)
    mask.paste(255, (8, 8, 24, 24))
    provider.generate(
        request("stable-image-core", Operation.ERASE, image=png_bytes(32, 32), mask=imaging.png_bytes(mask))
    )
    sent = stability_emulator.requests[-1]
    assert sent.path == "/v2beta/stable-image/edit/erase" and "prompt" not in sent.fields
    assert np.asarray(PILImage.open(io.BytesIO(sent.files["mask"])))[16, 16] == 255


@pytest.mark.parametrize(
    ("operation", "edit", "path", "field", "value"),
    [
        (
            Operation.SEARCH_REPLACE,
            {"search_prompt": "the red car"},
            "edit/search-and-replace",
            "search_prompt",
            "the red car",
        ),
        (
            Operation.CONTROL,
            {"control_kind": "sketch", "control_strength": 0.4},
            "control/sketch",
            "control_strength",
            "0.4",
        ),
        (
            Operation.CONTROL,
            {"control_kind": "structure", "control_strength": 0.9},
            "control/structure",
            "control_strength",
            "0.9",
        ),
        (Operation.STYLE, {"fidelity": 0.3}, "control/style", "fidelity", "0.3"),
    ],
)
def test_replace_control_and_style(stability_emulator, operation, edit, path, field, value):
    result = provider.generate(request("stable-image-core", operation, image=png_bytes(48, 32), edit_settings=edit))
    sent = stability_emulator.requests[-1]
    assert sent.path == f"/v2beta/stable-image/{path}" and sent.fields[field] == value
    assert sent.fields["prompt"] == "a lighthouse at dusk" and size(result.images[0].data) == (48, 32)


def test_conservative_upscale(stability_emulator):
    result = provider.generate(request("sd3.5-large", Operation.UPSCALE, image=png_bytes(32, 24), factor=4))
    assert stability_emulator.requests[-1].path == "/v2beta/stable-image/upscale/conservative"
    assert size(result.images[0].data) == (128, 96)
