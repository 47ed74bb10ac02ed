"""Stability provider over `requests` against the local v1 + v2beta emulator."""

import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image as PILImage

from studio import catalog, editing, imaging, jobs, specs
from studio.catalog import Operation, Size
from studio.models import Job
from studio.providers import stability as provider
from studio.providers.base import Canceled, ErrorKind, ProviderError
from studio.specs import EditSettings, Extension
from tests.emulators.base import Fault
from tests.factories import make_request, png_bytes

pytestmark = pytest.mark.django_db

RESULTS = "GET /v2beta/results/"


def request(model="sdxl-1.0", operation=Operation.GENERATE, **fields):
    fields.setdefault("prompt", "a lighthouse at dusk")
    fields.setdefault("seed", 42)
    if operation == Operation.GENERATE:
        fields.setdefault("size", "1344x768")
    return make_request(model, operation, **fields)


def size(data):
    return PILImage.open(io.BytesIO(data)).size


def pixels(data):
    return np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))


def noise(width, height, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def fast_polling(monkeypatch):
    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)


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
    remix = request(operation=Operation.REMIX, source=png_bytes(64, 64), size="1024x1024",
                    edit=EditSettings(strength=0.25))  # fmt: skip
    provider.generate(remix)
    sent = stability_emulator.requests[-1]
    assert sent.fields["init_image_mode"] == "IMAGE_STRENGTH" and sent.fields["image_strength"] == "0.750"
    assert sent.fields["text_prompts[0][text]"] == "a lighthouse at dusk" and "init_image" in sent.files


def test_sdxl_masking_sends_white_where_the_image_changes(stability_emulator):
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 16))
    provider.generate(
        request(operation=Operation.EDIT, source=png_bytes(64, 64), mask=imaging.png_bytes(mask), size="1024x1024")
    )
    sent = stability_emulator.requests[-1]
    assert sent.fields["mask_source"] == "MASK_IMAGE_WHITE"
    mask_sent = np.asarray(PILImage.open(io.BytesIO(sent.files["mask_image"])).convert("L"))
    assert (mask_sent[:16] == 255).all() and (mask_sent[16:] == 0).all()


def test_sdxl_esrgan_upscale_doubles(stability_emulator):
    upscale = request(operation=Operation.UPSCALE, source=png_bytes(64, 48), size=Size.of(128, 96),
                      edit=EditSettings(factor=2))  # fmt: skip
    result = provider.generate(upscale)
    assert size(result.images[0].data) == (128, 96)


def test_sdxl_2x_upscale_of_an_sdxl_sized_image_goes_to_esrgan(stability_emulator):
    source = noise(1024, 1024)
    upscale = request(operation=Operation.UPSCALE, source=imaging.png_bytes(PILImage.fromarray(source)),
                      size=Size.of(2048, 2048), edit=EditSettings(factor=2))  # fmt: skip
    result = provider.generate(upscale)
    sent = stability_emulator.requests[-1]
    assert sent.path == "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale"
    # No width: ESRGAN doubles by default, and a width would add its own minimum of 512.
    assert sent.fields == {} and np.array_equal(pixels(sent.files["image"]), source)
    assert size(result.images[0].data) == (2048, 2048)


SDXL_SIZES = [s.value for s in catalog.MODELS["sdxl-1.0"].sizes]


@pytest.mark.parametrize("sdxl_size", SDXL_SIZES)
def test_every_sdxl_size_upscales_2x_end_to_end(stability_emulator, run_jobs_inline, user, sdxl_size):
    """The editor's upscale of an SDXL result, as a job: validated, sent, doubled, stored."""
    width, height = map(int, sdxl_size.split("x"))
    prepared = editing.prepare(model="sdxl-1.0", operation="upscale", source=png_bytes(width, height),
                               settings=EditSettings(factor=2))  # fmt: skip
    with run_jobs_inline(execute=True):
        job = jobs.job_create_edit(owner=user, edit=prepared)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert stability_emulator.requests[-1].path == "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale"
    [image] = job.images.all()
    assert (image.width, image.height) == (width * 2, height * 2)


@pytest.mark.parametrize(
    ("width", "height"),
    [(1024, 1024), (1025, 1024), (1024, 1025), (2048, 512), (2048, 513), (1600, 640), (1600, 656)],
)
def test_the_catalog_refuses_exactly_the_upscales_stability_refuses(stability_emulator, width, height):
    """At most 4,194,304 output pixels (v1 upscale): the validator and the emulator draw one line."""
    # A request for a small size, its stored source swapped for this one: what the wire answers
    # is compared with what the validator says of the real size.
    request = make_request("sdxl-1.0", "upscale", source=png_bytes(width, height),
                           size=Size.of(128, 128), edit=EditSettings(factor=2))  # fmt: skip
    doubled = Size.of(width * 2, height * 2)
    problem = specs.size_problem(request.model, Operation.UPSCALE, doubled, 2)
    try:
        provider.generate(replace(request, size=doubled))
        refused_on_the_wire = ""
    except ProviderError as exc:
        assert exc.kind == ErrorKind.INVALID_REQUEST
        refused_on_the_wire = exc.message
    assert bool(problem) == bool(refused_on_the_wire), (problem, refused_on_the_wire)
    if refused_on_the_wire:
        assert "4,194,304" in refused_on_the_wire and "1,048,576" in problem


def test_esrgan_refuses_both_sides_and_a_side_under_512(stability_emulator):
    session, base = provider._session()
    url = f"{base}/v1/generation/esrgan-v1-x2plus/image-to-image/upscale"
    files = {"image": ("image.png", png_bytes(300, 200), "image/png")}
    both = session.post(url, data={"width": "600", "height": "400"}, files=files)
    small = session.post(url, data={"width": "500"}, files=files)
    default = session.post(url, files=files)
    assert (both.status_code, small.status_code, default.status_code) == (400, 400, 200)


@pytest.mark.parametrize(
    ("model", "path"), [("stable-image-ultra", "ultra"), ("stable-image-core", "core"), ("sd3.5-large-turbo", "sd3")]
)
def test_stable_image_generate_is_multipart_with_the_aspect_ratio(stability_emulator, model, path):
    result = provider.generate(request(model, negative_prompt="text"))
    sent = stability_emulator.requests[-1]
    assert sent.path == f"/v2beta/stable-image/generate/{path}"
    assert (
        sent.headers["content-type"].startswith("multipart/form-data") and sent.headers["accept"] == "application/json"
    )
    assert sent.fields["aspect_ratio"] == "16:9" and sent.fields["negative_prompt"] == "text"
    assert sent.fields["seed"] == "42" and [i.seed for i in result.images] == [42]
    if path == "sd3":
        assert sent.fields["model"] == "sd3.5-large-turbo"


def test_stable_image_inpaint_and_fast_and_creative_upscale(stability_emulator, fast_polling):
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    provider.generate(
        request("stable-image-core", Operation.EDIT, source=png_bytes(64, 64), mask=imaging.png_bytes(mask))
    )
    assert stability_emulator.requests[-1].path == "/v2beta/stable-image/edit/inpaint"
    fast = provider.generate(upscale_request("stable-image-core"))
    assert size(fast.images[0].data) == (128, 96)
    creative = provider.generate(upscale_request("stable-image-ultra"))
    polls = [r for r in stability_emulator.requests if r.path.startswith("/v2beta/results/")]
    assert len(polls) >= 2 and size(creative.images[0].data) == (128, 96)


def upscale_request(model):
    return request(model, Operation.UPSCALE, source=png_bytes(32, 24), size=Size.of(128, 96),
                   edit=EditSettings(factor=4))  # fmt: skip


@pytest.mark.parametrize(
    "fault",
    [
        Fault(on=RESULTS, status=500, body={"id": "x", "name": "internal", "errors": ["boom"]}),
        Fault(on=RESULTS, status=429, body={"name": "rate_limit", "errors": ["slow"]}, headers={"retry-after": "0"}),
        Fault(on=RESULTS, malformed=True),
        Fault(on=RESULTS, status=200, body={"finish_reason": "SUCCESS"}),  # done, but without the image
        Fault(on=RESULTS, drop=True),
    ],
)
def test_a_failed_poll_of_the_creative_upscale_buys_it_once(stability_emulator, fast_polling, fault):
    stability_emulator.creative_seconds = 0.2
    stability_emulator.faults.append(fault)
    result = provider.generate(upscale_request("stable-image-ultra"))
    buys = [r for r in stability_emulator.requests if r.path == "/v2beta/stable-image/upscale/creative"]
    assert len(buys) == 1 and size(result.images[0].data) == (128, 96) and not stability_emulator.faults


def test_a_canceled_creative_upscale_stops_polling(stability_emulator, fast_polling):
    stability_emulator.creative_seconds = 5
    with pytest.raises(Canceled):
        provider.generate(upscale_request("stable-image-ultra"), progress=lambda job_id, percent: False)
    assert [r.path for r in stability_emulator.requests] == ["/v2beta/stable-image/upscale/creative"]


def test_content_filtered_results_are_content_policy_failures(stability_emulator):
    for model in ("sdxl-1.0", "stable-image-core"):
        with pytest.raises(ProviderError) as exc:
            provider.generate(request(model, prompt="something forbidden"))
        assert exc.value.kind == ErrorKind.CONTENT_POLICY


def test_bad_sizes_are_refused_with_stabilitys_message(stability_emulator):
    # A size the catalog let through but Stability does not take.
    with pytest.raises(ProviderError) as exc:
        provider.generate(replace(request(), size=Size.of(1000, 1000)))
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
        (
            Fault(status=413, body={"id": "x", "name": "payload_too_large", "errors": ["too big"]}),
            ErrorKind.INVALID_REQUEST,
        ),
        (Fault(malformed=True), ErrorKind.UNAVAILABLE),
        (Fault(status=200, body=b""), ErrorKind.UNAVAILABLE),
        (Fault(status=200, body={"artifacts": "none"}), ErrorKind.UNAVAILABLE),
        (Fault(status=200, body={"artifacts": [{"base64": "", "finishReason": "SUCCESS"}]}), ErrorKind.UNAVAILABLE),
        (Fault(drop=True), ErrorKind.UNAVAILABLE),
    ],
)
def test_faults_map_to_error_kinds(stability_emulator, fault, kind):
    stability_emulator.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == kind
    if kind == ErrorKind.RATE_LIMITED:
        assert exc.value.retry_after == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault(malformed=True),
        Fault(status=200, body={"finish_reason": "SUCCESS", "seed": 1}),
        Fault(status=200, body=[]),
    ],
)
def test_a_malformed_200_from_stable_image_is_unavailable(stability_emulator, fault):
    stability_emulator.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request("stable-image-core"))
    assert exc.value.kind == ErrorKind.UNAVAILABLE and "could not read" in exc.value.message


def test_timeouts(stability_emulator, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    stability_emulator.faults.append(Fault(delay=1.0))
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.TIMEOUT


def outpaint(source, *, mask=None, **extend):
    """An outpaint prepared by the editor's service, its canvas and mask stored as the job's inputs."""
    prepared = editing.prepare(
        model="stable-image-core", operation="outpaint", source=imaging.png_bytes(PILImage.fromarray(source)),
        mask=mask, settings=EditSettings(extend=Extension(**extend)), prompt="more sea", seed=5,
    )  # fmt: skip
    return prepared, make_request(
        "stable-image-core", "outpaint", source=imaging.png_bytes(prepared.canvas),
        mask=imaging.png_bytes(prepared.mask), size=prepared.request.size, edit=prepared.request.edit,
        prompt="more sea", seed=5,
    )  # fmt: skip


def test_outpaint_sends_exactly_the_source_pixels_and_how_far_to_extend(stability_emulator):
    source = noise(64, 64)
    _, outpainting = outpaint(source, left=16, top=8, right=16, bottom=0)
    result = provider.generate(outpainting)
    sent = stability_emulator.requests[-1]
    assert sent.path == "/v2beta/stable-image/edit/outpaint" and "mask" not in sent.files
    assert (sent.fields["left"], sent.fields["right"], sent.fields["up"], sent.fields["down"]) == ("16", "16", "8", "0")
    assert np.array_equal(pixels(sent.files["image"]), source)  # no grey strip, nothing resampled
    assert size(result.images[0].data) == (96, 72)


def test_outpaint_with_the_picture_painted_over_inpaints_the_whole_canvas(stability_emulator):
    source = noise(128, 128)
    painted = PILImage.new("L", (128, 128 + 32), 0)  # the canvas: 32 px added below
    painted.paste(255, (20, 10, 60, 40))  # over the picture, away from the new area and its overlap
    _, outpainting = outpaint(source, mask=imaging.png_bytes(painted), bottom=32)
    provider.generate(outpainting)
    sent = stability_emulator.requests[-1]
    assert sent.path == "/v2beta/stable-image/edit/inpaint"
    canvas = pixels(sent.files["image"])
    assert canvas.shape == (160, 128, 3) and np.array_equal(canvas[:128], source)
    mask = np.asarray(PILImage.open(io.BytesIO(sent.files["mask"])).convert("L"))
    keep = 128 - imaging.OUTPAINT_OVERLAP  # rows below this one blend into the new area
    assert (mask[10:40, 20:60] == 255).all() and (mask[keep:] == 255).all()  # what was painted, and the new area
    assert (mask[:10] == 0).all() and (mask[40:keep] == 0).all() and (mask[:keep, 60:] == 0).all()


def test_erase_sends_the_mask_white_where_painted(stability_emulator):
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    provider.generate(
        request("stable-image-core", Operation.ERASE, source=png_bytes(64, 64), mask=imaging.png_bytes(mask))
    )
    sent = stability_emulator.requests[-1]
    assert sent.path == "/v2beta/stable-image/edit/erase" and "prompt" not in sent.fields
    assert np.asarray(PILImage.open(io.BytesIO(sent.files["mask"])))[32, 32] == 255


@pytest.mark.parametrize(
    ("operation", "edit", "path", "field", "value"),
    [
        (
            Operation.SEARCH_REPLACE,
            EditSettings(search_prompt="the red car"),
            "edit/search-and-replace",
            "search_prompt",
            "the red car",
        ),
        (
            Operation.CONTROL,
            EditSettings(control_kind="sketch", control_strength=0.4),
            "control/sketch",
            "control_strength",
            "0.4",
        ),
        (
            Operation.CONTROL,
            EditSettings(control_kind="structure", control_strength=0.9),
            "control/structure",
            "control_strength",
            "0.9",
        ),
        (Operation.STYLE, EditSettings(fidelity=0.3), "control/style", "fidelity", "0.3"),
    ],
)
def test_replace_control_and_style(stability_emulator, operation, edit, path, field, value):
    result = provider.generate(request("stable-image-core", operation, source=png_bytes(96, 64), edit=edit))
    sent = stability_emulator.requests[-1]
    assert sent.path == f"/v2beta/stable-image/{path}" and sent.fields[field] == value
    assert sent.fields["prompt"] == "a lighthouse at dusk" and size(result.images[0].data) == (96, 64)


def test_conservative_upscale(stability_emulator):
    result = provider.generate(upscale_request("sd3.5-large"))
    assert stability_emulator.requests[-1].path == "/v2beta/stable-image/upscale/conservative"
    assert size(result.images[0].data) == (128, 96)


def test_calls_reuse_the_session_and_its_connection(stability_emulator):
    provider.generate(request())
    provider.generate(request())
    first, second = stability_emulator.requests
    assert first.connection == second.connection


def test_a_creative_upscale_past_its_deadline_fails_and_is_not_bought_again(
    stability_emulator, fast_polling, settings, runner_waits
):
    from studio import specs, tasks
    from tests.factories import make_job

    stability_emulator.creative_seconds = 30
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 0.5
    job = make_job(**specs.job_fields(upscale_request("stable-image-ultra")))
    assert tasks.run_job(job.pk) == "failed: timeout"
    job.refresh_from_db()
    buys = [r for r in stability_emulator.requests if r.path == "/v2beta/stable-image/upscale/creative"]
    assert len(buys) == 1 and runner_waits == [] and job.attempts == 1
    assert "did not finish in time" in job.error_message and "did not try again" in job.error_message


# --- every setting a job records reaches the wire ---------------------------------------------------

STABILITY_PAIRS = [
    (m.id, op) for m in catalog.MODELS.values() if m.provider == "stability" for op in sorted(m.operations)
]


def _not_default(option):
    """A value of the option that is not its default (nor its "send nothing" value)."""
    if option.kind == catalog.OptionKind.CHOICE:
        return next(c for c in reversed(option.choices) if c not in (option.default, option.unset))
    if option.kind == catalog.OptionKind.BOOL:
        return not option.default
    return option.max if option.kind == catalog.OptionKind.FLOAT else int(option.max)


def _stability_request(model_id, operation, *, options, negative):
    """A validated request of the operation, its inputs stored as the editor stores them."""
    common = {"options": options, "negative_prompt": negative, "prompt": "a lighthouse at dusk", "seed": 77}
    if operation == Operation.GENERATE:
        return make_request(model_id, operation, **common)
    if operation == Operation.UPSCALE:
        factor = catalog.MODELS[model_id].upscale.factors[0]
        prepared = editing.prepare(model=model_id, operation=operation, source=png_bytes(96, 64),
                                   settings=EditSettings(factor=factor), **common)  # fmt: skip
    else:
        settings = {
            Operation.REMIX: EditSettings(strength=0.4),
            Operation.OUTPAINT: EditSettings(extend=Extension(right=64)),
            Operation.SEARCH_REPLACE: EditSettings(search_prompt="the boat"),
            Operation.CONTROL: EditSettings(control_kind="structure", control_strength=0.3),
            Operation.STYLE: EditSettings(fidelity=0.8),
        }.get(operation, specs.NO_EDIT)
        source = png_bytes(1024, 1024) if model_id == "sdxl-1.0" else png_bytes(128, 128)
        mask = PILImage.new("L", (1024, 1024) if model_id == "sdxl-1.0" else (128, 128), 0)
        mask.paste(255, (16, 16, 64, 64))
        masked = operation in specs.MASKED
        prepared = editing.prepare(model=model_id, operation=operation, source=source, settings=settings,
                                   mask=imaging.png_bytes(mask) if masked else None, **common)  # fmt: skip
    return make_request(
        model_id, operation, source=imaging.png_bytes(prepared.canvas), size=prepared.request.size,
        mask=imaging.png_bytes(prepared.mask) if prepared.mask is not None else None, edit=prepared.request.edit,
        **common,
    )  # fmt: skip


def _sent(emulator):
    """The paid call's path and fields (its JSON body, or its multipart fields)."""
    call = next(r for r in reversed(emulator.requests) if r.method == "POST")
    return call.path, (call.json if call.json is not None else call.fields)


def _negatives(sent):
    """The negative prompts a call carries: v2beta's field, or v1's prompts of negative weight."""
    if "negative_prompt" in sent:
        return [sent["negative_prompt"]]
    if "text_prompts" in sent:  # v1 JSON
        return [p["text"] for p in sent["text_prompts"] if p["weight"] < 0]
    weights = {k: v for k, v in sent.items() if k.startswith("text_prompts[") and k.endswith("[weight]")}
    return [sent[k.replace("[weight]", "[text]")] for k, v in weights.items() if float(v) < 0]


@pytest.mark.parametrize(("model_id", "operation"), STABILITY_PAIRS, ids=[f"{m}-{op}" for m, op in STABILITY_PAIRS])
def test_every_option_and_negative_prompt_a_job_records_reaches_the_wire(stability_emulator, fast_polling,
                                                                          model_id, operation):  # fmt: skip
    model = catalog.MODELS[model_id]
    options = {o.name: _not_default(o) for o in model.options_for(operation)}
    negative = "blurry, text" if model.takes_negative_prompt(operation) else ""
    request = _stability_request(model_id, operation, options=options, negative=negative)
    assert dict(request.options) == options and request.negative_prompt == negative  # recorded as asked
    provider.generate(request)
    path, sent = _sent(stability_emulator)
    for option in model.options_for(operation):
        assert option.name in sent, f"{option.name} is recorded but {path} was not sent it"
        assert specs.coerce_option(option, sent[option.name]) == options[option.name], option.name
    assert _negatives(sent) == ([negative] if negative else []), path


@pytest.mark.parametrize(("model_id", "operation"), STABILITY_PAIRS, ids=[f"{m}-{op}" for m, op in STABILITY_PAIRS])
def test_what_an_endpoint_does_not_take_is_refused_before_the_call(stability_emulator, model_id, operation):
    """A setting the endpoint has no field for is refused by name, not recorded and dropped."""
    model = catalog.MODELS[model_id]
    taken = {o.name for o in model.options_for(operation)}
    for option in model.options:
        if option.name not in taken:
            with pytest.raises(specs.Invalid, match=f"no option “{option.name}” for {operation.value}"):
                _stability_request(model_id, operation, options={option.name: _not_default(option)}, negative="")
    if model.negative_prompt and not model.takes_negative_prompt(operation):
        with pytest.raises(specs.Invalid) as refused:
            _stability_request(model_id, operation, options={}, negative="blurry")
        assert f"no negative prompt for {operation.value}" in refused.value.errors["negative_prompt"][0]
    assert stability_emulator.requests == []


def test_sdxls_upscale_makes_one_image_and_takes_none_of_the_diffusion_settings():
    model = catalog.MODELS["sdxl-1.0"]
    assert model.max_n_for(Operation.UPSCALE) == 1 and model.max_n_for(Operation.GENERATE) == 10
    assert model.options_for(Operation.UPSCALE) == ()
    with pytest.raises(specs.Invalid) as refused:
        make_request("sdxl-1.0", "upscale", source=png_bytes(64, 64), size=Size.of(128, 128),
                     edit=EditSettings(factor=2), n=5)  # fmt: skip
    assert "between 1 and 1 for Stable Diffusion XL 1.0's upscale" in refused.value.errors["n"][0]


def test_style_preset_none_means_the_field_is_left_out(stability_emulator):
    for model_id, operation in (("sdxl-1.0", Operation.REMIX), ("stable-image-core", Operation.EDIT)):
        provider.generate(_stability_request(model_id, operation, options={"style_preset": "none"}, negative=""))
        assert "style_preset" not in _sent(stability_emulator)[1]
