"""OpenAI provider: the real `openai` SDK against the local Images API emulator, end to end."""

import base64
import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage

from studio import catalog, imaging, pricing, tasks
from studio.catalog import Operation
from studio.models import Job
from studio.providers import openai as provider
from studio.providers.base import ErrorKind, ProviderError, retry_after
from tests.emulators.base import Fault
from tests.factories import make_job, make_request, png_bytes

pytestmark = pytest.mark.django_db

JOB_PARAMS = {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "low", "n": 1, "seed": 1,
              "options": {}}  # fmt: skip


def request(model="gpt-image-1.5", operation=Operation.GENERATE, **fields):
    fields.setdefault("prompt", "a lighthouse at dusk")
    return make_request(model, operation, **fields)


def decoded(data):
    return PILImage.open(io.BytesIO(data))


def test_models_are_enabled_once_the_key_is_set(openai_emulator, settings):
    assert catalog.availability(catalog.MODELS["gpt-image-2"]).enabled
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "openai": {"api_key": "", "base_url": "x"}}
    assert catalog.availability(catalog.MODELS["gpt-image-2"]).reason == "set OPENAI_API_KEY"


def test_gpt_image_generate_sends_the_options_and_gets_b64(openai_emulator):
    options = {"background": "transparent", "output_format": "webp", "output_compression": 80, "moderation": "low"}
    result = provider.generate(request("gpt-image-1.5", size="1536x1024", quality="high", n=2, options=options))
    sent = openai_emulator.requests[-1]
    assert sent.path == "/v1/images/generations" and sent.headers["authorization"] == "Bearer sk-test-emulator"
    assert sent.json == {"model": "gpt-image-1.5", "prompt": "a lighthouse at dusk", "n": 2, "size": "1536x1024",
                         "quality": "high", **options}  # fmt: skip
    assert [(decoded(i.data).format, decoded(i.data).size) for i in result.images] == [("WEBP", (1536, 1024))] * 2
    assert result.usage["total_tokens"] > 0


def test_png_output_leaves_compression_off_the_wire(openai_emulator):
    options = {"background": "auto", "output_format": "png", "output_compression": 100, "moderation": "auto"}
    provider.generate(request("gpt-image-1.5", options=options))
    sent = openai_emulator.requests[-1].json
    assert sent["output_format"] == "png" and "output_compression" not in sent


def test_gpt_image_2_takes_its_wider_sizes(openai_emulator):
    result = provider.generate(request("gpt-image-2", size="1680x720"))
    assert decoded(result.images[0].data).size == (1680, 720)


@pytest.mark.parametrize("model", ["gpt-image-2.5-flare", "gpt-image-2.5-sunburst"])
def test_gpt_image_2_5_generates_with_xhigh_quality_and_complexity(openai_emulator, model):
    options = {"background": "opaque", "output_format": "png", "moderation": "auto", "complexity": "high"}
    result = provider.generate(request(model, size="1536x864", quality="xhigh", options=options))
    sent = openai_emulator.requests[-1].json
    assert sent == {"model": model, "prompt": "a lighthouse at dusk", "n": 1, "size": "1536x864", "quality": "xhigh",
                    **options}  # fmt: skip
    assert decoded(result.images[0].data).size == (1536, 864)


@pytest.mark.parametrize(
    "model", ["gpt-image-2.6-flare", "gpt-image-2.6-sunburst", "chatgpt-image-latest", "gpt-image-2.5-flare-2026-09-08"]
)
def test_models_the_sdk_names_generate_with_what_it_documents(openai_emulator, model):
    """The 2.6 pair and chatgpt-image-latest take what the SDK says of every GPT image model (the
    emulator refuses free sizes and xhigh for them); a dated snapshot takes its model's settings."""
    size = "1536x864" if model.endswith("2026-09-08") else "1536x1024"
    result = provider.generate(request(model, size=size, quality="high"))
    assert openai_emulator.requests[-1].json["model"] == model
    assert decoded(result.images[0].data).size == tuple(int(x) for x in size.split("x"))


def test_dall_e_3_style_quality_and_revised_prompt(openai_emulator):
    result = provider.generate(request("dall-e-3", size="1792x1024", quality="hd", options={"style": "natural"}))
    sent = openai_emulator.requests[-1].json
    assert sent["response_format"] == "b64_json" and sent["style"] == "natural" and sent["quality"] == "hd"
    assert result.images[0].revised_prompt.startswith("A detailed, vivid illustration of a lighthouse")


def test_gpt_image_edit_sends_the_mask_as_alpha_transparent_where_painted(openai_emulator):
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    source = png_bytes(64, 64, (10, 200, 30))
    provider.generate(
        request("gpt-image-1.5", Operation.EDIT, source=source, mask=imaging.png_bytes(mask), size="1024x1024")
    )
    sent = openai_emulator.requests[-1]
    assert sent.path == "/v1/images/edits" and sent.fields["prompt"] == "a lighthouse at dusk"
    alpha = np.asarray(decoded(sent.files["mask"]).getchannel("A"))
    assert (alpha[:, :32] == 0).all() and (alpha[:, 32:] == 255).all()


def test_dall_e_2_edit_and_variation_send_square_rgba_pngs(openai_emulator):
    mask_img = PILImage.new("L", (64, 64), 0)
    mask_img.paste(255, (8, 8, 24, 24))
    provider.generate(
        request("dall-e-2", Operation.EDIT, source=png_bytes(), mask=imaging.png_bytes(mask_img), size="256x256")
    )
    assert decoded(openai_emulator.requests[-1].files["image"]).mode == "RGBA"
    result = provider.generate(request("dall-e-2", Operation.VARIATION, source=png_bytes(), size="256x256", n=2))
    assert openai_emulator.requests[-1].path == "/v1/images/variations" and len(result.images) == 2


def test_dall_e_2_edit_refuses_a_non_square_image_before_calling(openai_emulator):
    mask = PILImage.new("L", (64, 32))
    mask.paste(255, (0, 0, 16, 16))
    square = request("dall-e-2", Operation.EDIT, source=png_bytes(64, 32), mask=imaging.png_bytes(mask), size="256x256")
    with pytest.raises(ProviderError) as exc:
        provider.generate(square)
    assert exc.value.kind == ErrorKind.INVALID_REQUEST and "square" in exc.value.message
    assert openai_emulator.requests == []


@pytest.mark.parametrize(
    ("fault", "kind", "text"),
    [
        (
            Fault(status=401, body={"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}),
            ErrorKind.AUTH,
            "Incorrect API key",
        ),
        (
            Fault(status=429, body={"error": {"message": "Rate limit reached"}}, headers={"retry-after": "3"}),
            ErrorKind.RATE_LIMITED,
            "Rate limit",
        ),
        (
            Fault(status=500, body={"error": {"message": "The server had an error"}}),
            ErrorKind.UNAVAILABLE,
            "server had an error",
        ),
        (Fault(malformed=True), ErrorKind.UNAVAILABLE, "could not read"),
        (Fault(status=200, body=b""), ErrorKind.UNAVAILABLE, "could not read"),
        (Fault(status=200, body={}), ErrorKind.UNAVAILABLE, "without any image"),
        (
            Fault(status=200, body={"created": 1, "data": [{"b64_json": "%%%"}]}),
            ErrorKind.UNAVAILABLE,
            "could not read",
        ),
        (
            Fault(status=503, body={"error": {"message": "Overloaded"}}, headers={"retry-after": "4"}),
            ErrorKind.UNAVAILABLE,
            "Overloaded",
        ),
    ],
)
def test_faults_map_to_error_kinds(openai_emulator, fault, kind, text):
    openai_emulator.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == kind and text in exc.value.message
    if "retry-after" in fault.headers:
        assert exc.value.retry_after == float(fault.headers["retry-after"])
    assert len(openai_emulator.requests) == 1  # the SDK does not retry; Atelier decides


def test_the_safety_system_refusal_is_a_content_policy_failure(openai_emulator):
    with pytest.raises(ProviderError) as exc:
        provider.generate(request(prompt="something forbidden"))
    assert exc.value.kind == ErrorKind.CONTENT_POLICY and "safety system" in exc.value.message


def test_a_slow_server_times_out(openai_emulator, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    openai_emulator.faults.append(Fault(delay=1.0))
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.TIMEOUT


def test_retry_after_is_read_from_headers():
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({}) is None


def test_a_429_with_retry_after_1_is_retried_after_a_second_and_succeeds(openai_emulator, runner_waits):
    openai_emulator.faults.append(
        Fault(status=429, body={"error": {"message": "Slow down"}}, headers={"retry-after": "1"})
    )
    job = make_job(model_id="gpt-image-1.5", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert runner_waits and runner_waits[0] >= 1 and job.attempts == 2 and job.cost is not None


def test_a_malformed_200_is_unavailable_and_not_bought_again(openai_emulator, runner_waits):
    # A 200 means OpenAI may have made (and billed) the images: the job fails saying so, and only
    # the user's Retry buys them again.
    openai_emulator.faults.append(Fault(malformed=True))
    job = make_job(model_id="gpt-image-1.5", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "failed: unavailable"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and len(openai_emulator.requests) == 1
    assert "could not read" in job.error_message and "did not try again" in job.error_message


def test_a_connection_refused_before_sending_is_retried(openai_emulator, runner_waits, settings):
    # Nothing reached the provider: trying again cannot buy anything twice.
    settings.PROVIDER_SETTINGS["openai"]["base_url"] = "http://127.0.0.1:9/v1"
    job = make_job(model_id="gpt-image-1.5", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "failed: unavailable"
    job.refresh_from_db()
    assert job.attempts == settings.JOB_MAX_ATTEMPTS and "Could not reach OpenAI" in job.error_message
    assert "did not try again" not in job.error_message


def test_a_connection_dropped_after_sending_is_not_bought_again(openai_emulator, runner_waits):
    openai_emulator.faults.append(Fault(drop=True))
    job = make_job(model_id="gpt-image-1.5", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "failed: unavailable"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and "broke before it answered" in job.error_message


def test_the_studio_runs_an_openai_job_end_to_end(openai_emulator, alice, user, run_jobs_inline):
    data = {
        "model": "dall-e-3",
        "prompt": "a red fox",
        "size": "1024x1024",
        "quality": "standard",
        "n": "1",
        "opt_style": "vivid",
    }
    with run_jobs_inline(execute=True):
        alice.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true")
    job = Job.objects.get()
    assert job.status == "succeeded", job.error_message
    image = job.images.get()
    assert image.revised_prompt.startswith("A detailed, vivid illustration")
    assert "A detailed, vivid illustration" in alice.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert str(job.cost) == "0.0400"
    assert openai_emulator.api_key not in str(job.params) + str(job.usage)


def test_gpt_image_edit_sends_reference_images_after_the_edited_one(openai_emulator):
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 32))
    refs = (png_bytes(32, 32, (255, 0, 0)), png_bytes(48, 48, (0, 0, 255)))
    provider.generate(
        request(
            "gpt-image-1.5", Operation.EDIT, source=png_bytes(), mask=imaging.png_bytes(mask), references=refs,
            size="1024x1024",
        )
    )  # fmt: skip
    sent = openai_emulator.requests[-1].file_lists["image[]"]
    assert [decoded(i).size for i in sent] == [(64, 64), (32, 32), (48, 48)]


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_gpt_image_edit_carries_every_setting_on_the_multipart_wire(openai_emulator, fmt):
    mask = PILImage.new("L", (1024, 1024), 0)
    mask.paste(255, (0, 0, 512, 1024))
    options = {"background": "opaque", "output_format": fmt, "output_compression": 55, "complexity": "medium"}
    edit = request("gpt-image-2.5-flare", Operation.EDIT, source=png_bytes(1024, 1024), mask=imaging.png_bytes(mask),
                   size="1024x1024", quality="max", n=2, options=options)  # fmt: skip
    result = provider.generate(edit)
    sent = openai_emulator.requests[-1]
    assert sent.path == "/v1/images/edits" and sent.headers["content-type"].startswith("multipart/form-data")
    settings = {"size": "1024x1024", "quality": "max", **{k: str(v) for k, v in options.items()}}
    assert sent.fields == {"model": "gpt-image-2.5-flare", "prompt": "a lighthouse at dusk", "n": "2", **settings}
    assert set(sent.files) == {"image", "mask"}
    assert [decoded(i.data).format for i in result.images] == [fmt.upper()] * 2


def test_moderation_is_sent_with_generations(openai_emulator):
    # Edits take none (image_edit_params.py has no `moderation`; the emulator refuses it there).
    provider.generate(request("gpt-image-2", options={"moderation": "low"}))
    assert openai_emulator.requests[-1].json["moderation"] == "low"


def test_a_transparent_edit_keeps_png_and_sends_no_compression(openai_emulator):
    mask = PILImage.new("L", (1024, 1024), 0)
    mask.paste(255, (0, 0, 100, 100))
    options = {"background": "transparent", "output_format": "png", "output_compression": 100}
    provider.generate(request("gpt-image-2", Operation.EDIT, source=png_bytes(1024, 1024), mask=imaging.png_bytes(mask),
                              size="1024x1024", quality="high", options=options))  # fmt: skip
    fields = openai_emulator.requests[-1].fields
    assert fields["background"] == "transparent" and fields["quality"] == "high" and "output_compression" not in fields


def test_an_instruct_goes_to_images_edit_without_a_mask(openai_emulator):
    refs = (png_bytes(32, 32, (255, 0, 0)),)
    result = provider.generate(
        request("gpt-image-2", Operation.INSTRUCT, source=png_bytes(1024, 768, (0, 90, 200)), prompt="make it night",
                size="1024x768", references=refs)
    )  # fmt: skip
    sent = openai_emulator.requests[-1]
    assert sent.path == "/v1/images/edits" and "mask" not in sent.files and sent.fields["prompt"] == "make it night"
    images = [decoded(i) for i in sent.file_lists["image[]"]]
    assert [i.size for i in images] == [(1024, 768), (32, 32)] and images[0].getpixel((5, 5)) == (0, 90, 200)
    assert decoded(result.images[0].data).size == (1024, 768)


def test_an_instruct_without_references_sends_one_image(openai_emulator):
    provider.generate(request("gpt-image-1.5", Operation.INSTRUCT, source=png_bytes(1024, 1024), size="1024x1024"))
    sent = openai_emulator.requests[-1]
    assert list(sent.file_lists) == ["image"] and "mask" not in sent.files


def test_reference_images_through_the_editor(openai_emulator, alice, user, run_jobs_inline):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import make_image

    source = make_image(make_job(owner=user, status="succeeded"))
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    data = {"model": "gpt-image-1.5", "quality": "low", "n": "1", "prompt": "add the hat", "operation": "edit",
            "source": source.pk, "opt_background": "auto", "opt_output_format": "png", "opt_output_compression": "100",
            "opt_moderation": "auto", "mask": SimpleUploadedFile("m.png", imaging.png_bytes(mask)),
            "references": [SimpleUploadedFile("hat.png", png_bytes(20, 20)),
                           SimpleUploadedFile("h2.png", png_bytes(30, 30))]}  # fmt: skip
    with run_jobs_inline(execute=True):
        response = alice.post(reverse("studio:editor_submit"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()[:500]
    job = Job.objects.get(operation="edit")
    assert job.status == "succeeded", job.error_message
    assert len(job.params["references"]) == 2
    assert len(openai_emulator.requests[-1].file_lists["image[]"]) == 3


def test_reference_images_are_refused_where_the_model_takes_none(alice, user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import make_image

    source = make_image(make_job(owner=user, status="succeeded"))
    data = {"model": "offline", "quality": "draft", "n": "1", "prompt": "p", "operation": "remix", "source": source.pk,
            "references": [SimpleUploadedFile("a.png", png_bytes())]}  # fmt: skip
    response = alice.post(reverse("studio:editor_submit"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "does not take reference images" in response.content.decode()


def test_calls_reuse_the_client_and_its_connection(openai_emulator):
    provider.generate(request())
    provider.generate(request())
    first, second = openai_emulator.requests
    assert first.connection == second.connection


def test_input_fidelity_goes_with_gpt_image_1_5_edits_only(openai_emulator):
    mask = PILImage.new("L", (1024, 1024), 0)
    mask.paste(255, (0, 0, 100, 100))
    edit = request("gpt-image-1.5", Operation.EDIT, source=png_bytes(1024, 1024), mask=imaging.png_bytes(mask),
                   size="1024x1024", quality="low", options={"input_fidelity": "high"})  # fmt: skip
    provider.generate(edit)
    assert openai_emulator.requests[-1].fields["input_fidelity"] == "high"
    provider.generate(request("gpt-image-1.5", size="1024x1024", quality="low"))
    assert "input_fidelity" not in openai_emulator.requests[-1].json


def test_partial_images_are_off_unless_opted_in(openai_emulator):
    provider.generate(request("gpt-image-1.5"))
    assert "stream" not in openai_emulator.requests[-1].json


def test_opted_in_gpt_image_streams_partial_images_as_previews(openai_emulator, settings):
    settings.OPENAI_PARTIAL_IMAGES = 2
    previews = []
    result = provider.generate(
        request("gpt-image-1.5", size="1536x1024"),
        progress=lambda pid, pct, preview=None: (preview and previews.append(preview)) or True,
    )
    sent = openai_emulator.requests[-1].json
    assert sent["stream"] is True and sent["partial_images"] == 2
    assert [decoded(p).size for p in previews] == [(1536, 1024)] * 2
    assert len(result.images) == 1 and decoded(result.images[0].data).size == (1536, 1024)
    assert result.images[0].data not in previews  # previews are not the result
    # OpenAI's table: a high (auto) 1536×1024 image is 6208 tokens; each partial image adds 100
    assert result.usage["output_tokens_details"]["image_tokens"] == 6208 + 2 * 100


def test_opted_in_edits_stream_too(openai_emulator, settings):
    settings.OPENAI_PARTIAL_IMAGES = 1
    previews = []
    result = provider.generate(
        request("gpt-image-1.5", Operation.EDIT, source=png_bytes(1024, 1024), mask=png_bytes(1024, 1024, (255,) * 3)),
        progress=lambda pid, pct, preview=None: (preview and previews.append(preview)) or True,
    )
    assert openai_emulator.requests[-1].fields["stream"] == "true" and len(previews) == 1 and result.images


def test_several_images_or_dall_e_are_not_streamed(openai_emulator, settings):
    settings.OPENAI_PARTIAL_IMAGES = 3
    provider.generate(request("gpt-image-1.5", n=2))
    assert "stream" not in openai_emulator.requests[-1].json
    assert not catalog.MODELS["dall-e-3"].wire.partial_images


def test_a_cancel_during_the_stream_stops_reading_it(openai_emulator, settings):
    from studio.providers.base import Canceled

    settings.OPENAI_PARTIAL_IMAGES = 3
    previews = []
    with pytest.raises(Canceled):
        provider.generate(
            request("gpt-image-1.5"), progress=lambda pid, pct, preview=None: previews.append(preview) or False
        )
    assert len(previews) == 1


def test_a_stream_that_breaks_off_may_have_been_paid(openai_emulator, settings, monkeypatch):
    settings.OPENAI_PARTIAL_IMAGES = 1
    real = openai_emulator._events

    def cut_short(params, images, event):
        yield next(real(params, images, event))  # the partial image, then the connection ends

    monkeypatch.setattr(openai_emulator, "_events", cut_short)
    with pytest.raises(ProviderError) as failure:
        provider.generate(request("gpt-image-1.5"))
    assert failure.value.may_be_paid and failure.value.kind == ErrorKind.UNAVAILABLE


def test_the_emulator_refuses_partial_images_without_stream(openai_emulator):
    from openai import BadRequestError

    with pytest.raises(BadRequestError):
        provider._client().images.generate(model="gpt-image-1.5", prompt="x", extra_body={"partial_images": 2})


def test_a_streamed_image_without_its_time_or_usage_is_kept(openai_emulator, settings):
    """The image is what was paid for: a compatible server that leaves fields out of the completed
    event still gets its image stored (priced from the catalog instead of from usage)."""
    settings.OPENAI_PARTIAL_IMAGES = 1
    openai_emulator.lean_stream = True
    result = provider.generate(request("gpt-image-1.5"), progress=lambda pid, pct, preview=None: True)
    assert len(result.images) == 1 and decoded(result.images[0].data).size == (1024, 1024)
    assert result.usage == {} and result.cost is None


def b64_png():
    return base64.b64encode(png_bytes(32, 32)).decode()


@pytest.mark.parametrize(
    "item",
    [
        {"b64_json": ""},
        {"b64_json": None},
        {"b64_json": base64.b64encode(b"hello, not an image").decode()},
        {"url": "https://example.com/x.png"},
    ],
)
def test_an_answer_without_a_readable_image_is_unavailable_and_not_bought_again(openai_emulator, runner_waits, item):
    """A 200 whose image is empty or not an image is an answer Atelier could not read (it may have
    been billed), not an image the provider made badly."""
    openai_emulator.faults.append(Fault(status=200, body={"created": 1, "data": [item]}))
    job = make_job(model_id="gpt-image-1.5", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "failed: unavailable"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and len(openai_emulator.requests) == 1
    assert "could not read" in job.error_message and "did not try again" in job.error_message


@pytest.mark.parametrize("usage", ["lots", 12, ["tokens"]])
def test_an_image_with_a_malformed_usage_is_kept_and_priced_from_the_catalog(openai_emulator, runner_waits, usage):
    openai_emulator.faults.append(
        Fault(status=200, body={"created": 1, "data": [{"b64_json": b64_png()}], "usage": usage})
    )
    job = make_job(model_id="gpt-image-1.5", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    listed = pricing.job_cost(job.model_id, job.operation, job.params, images=1)
    assert job.images.count() == 1 and job.usage == {} and listed is not None and job.cost == listed
