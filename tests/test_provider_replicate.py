"""Replicate provider: the real `replicate` SDK against the local predictions emulator."""

import io
import threading

import pytest
from PIL import Image as PILImage

from studio import catalog
from studio.catalog import Operation
from studio.models import Job
from studio.providers import replicate as provider
from studio.providers.base import Canceled, ErrorKind, GenerationRequest, ProviderError
from tests.emulators.base import Fault
from tests.factories import make_job, png_bytes

pytestmark = pytest.mark.django_db


def request(model="flux-schnell", **overrides):
    fields = {
        "operation": Operation.GENERATE,
        "model": catalog.MODELS[model],
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "",
        "width": 1344,
        "height": 768,
        "quality": "standard",
        "n": 1,
        "seed": 7,
        "options": {o.name: o.default for o in catalog.MODELS[model].options},
    }
    fields.update(overrides)
    return GenerationRequest(**fields)


def test_flux_schnell_generates_with_prefer_wait_and_downloads_outputs(replicate_emulator):
    result = provider.generate(request(n=2))
    create = replicate_emulator.requests[0]
    assert create.path == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert create.headers["prefer"].startswith("wait") and create.headers["authorization"] == "Bearer r8_test_emulator"
    sent = create.json["input"]
    assert sent["aspect_ratio"] == "16:9" and sent["num_outputs"] == 2 and sent["seed"] == 7
    assert sent["num_inference_steps"] == 4 and sent["output_format"] == "webp" and sent["go_fast"] is True
    assert [PILImage.open(io.BytesIO(i.data)).size for i in result.images] == [(1344, 768)] * 2
    assert result.provider_job_id and result.usage["predict_time"] == 0.2


def test_a_slow_prediction_is_polled_until_it_succeeds(replicate_emulator, monkeypatch):
    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)
    replicate_emulator.latency = 0.6
    monkeypatch.setattr(provider.settings, "REPLICATE_WAIT_SECONDS", 0)
    seen = []
    result = provider.generate(request("flux-1.1-pro", progress=lambda pid, pct: seen.append((pid, pct)) or True))
    polls = [r for r in replicate_emulator.requests if r.method == "GET" and r.path.startswith("/v1/predictions/")]
    assert polls and len(result.images) == 1  # pro models answer with one URL, not a list
    assert seen[0][0] == result.provider_job_id and seen[-1][1] == 100


def test_a_user_cancel_is_forwarded_to_replicate(replicate_emulator, monkeypatch):
    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)
    replicate_emulator.latency = 5
    monkeypatch.setattr(provider.settings, "REPLICATE_WAIT_SECONDS", 0)
    with pytest.raises(Canceled):
        provider.generate(request(progress=lambda pid, pct: False))
    assert replicate_emulator.requests[-1].path.endswith("/cancel")
    assert next(iter(replicate_emulator.predictions.values())).status == "canceled"


def test_flux_dev_remix_sends_the_image_and_strength(replicate_emulator):
    provider.generate(request("flux-dev", operation=Operation.REMIX, image=png_bytes(), strength=0.3))
    sent = replicate_emulator.requests[0].json["input"]
    assert sent["image"].startswith("data:image/png;base64,") and sent["prompt_strength"] == 0.3


def test_invalid_input_is_an_invalid_request_with_replicates_words(replicate_emulator):
    with pytest.raises(ProviderError) as exc:
        provider.generate(request(options={"num_inference_steps": 9}))
    assert exc.value.kind == ErrorKind.INVALID_REQUEST and "num_inference_steps" in exc.value.message


def test_an_nsfw_failure_is_a_content_policy_failure(replicate_emulator):
    with pytest.raises(ProviderError) as exc:
        provider.generate(request(prompt="something forbidden"))
    assert exc.value.kind == ErrorKind.CONTENT_POLICY and "NSFW" in exc.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (
            Fault(status=401, body={"title": "Unauthenticated", "detail": "Invalid token", "status": 401}),
            ErrorKind.AUTH,
        ),
        (
            Fault(
                status=429,
                body={"title": "Throttled", "detail": "Request was throttled.", "status": 429},
                headers={"retry-after": "1"},
            ),
            ErrorKind.RATE_LIMITED,
        ),
        (Fault(status=500, body={"title": "Internal", "detail": "boom", "status": 500}), ErrorKind.UNAVAILABLE),
    ],
)
def test_faults_on_create_map_to_error_kinds(replicate_emulator, fault, kind):
    replicate_emulator.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == kind
    if kind == ErrorKind.RATE_LIMITED:
        assert exc.value.retry_after == 1 and "throttled" in exc.value.message


def test_canceling_the_job_in_the_studio_cancels_the_prediction(replicate_emulator, monkeypatch, transactional_db):
    """The whole path: the worker runs the job, the user cancels, Replicate is told."""
    from studio import jobs, tasks

    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(provider.settings, "REPLICATE_WAIT_SECONDS", 0)
    replicate_emulator.latency = 10
    params = {"width": 1024, "height": 1024, "quality": "standard", "n": 1, "seed": 1, "options": {}}
    job = make_job(model_id="flux-schnell", params=params)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(tasks.run_job(job.pk)))
    worker.start()
    from tests.conftest import wait_for

    assert wait_for(lambda: Job.objects.get(pk=job.pk).provider_job_id, timeout=10)
    jobs.job_cancel(job=Job.objects.get(pk=job.pk))
    worker.join(timeout=10)
    assert outcome == ["discarded: canceled while running"]
    assert any(r.path.endswith("/cancel") for r in replicate_emulator.requests)
    assert Job.objects.get(pk=job.pk).status == "canceled"


def test_flux_fill_inpaints_with_the_mask_white_where_painted(replicate_emulator):
    import numpy as np

    from studio import imaging

    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 20))
    source = png_bytes(64, 64, (10, 200, 30))
    result = provider.generate(
        request(
            "flux-fill-pro", operation=Operation.EDIT, image=source, mask=imaging.png_bytes(mask), width=64, height=64
        )
    )
    sent = replicate_emulator.requests[0]
    assert (
        sent.path == "/v1/models/black-forest-labs/flux-fill-pro/predictions"
        and "aspect_ratio" not in sent.json["input"]
    )
    out = np.asarray(PILImage.open(io.BytesIO(result.images[0].data)).convert("RGB"), dtype=int)
    assert (out[20:] == [10, 200, 30]).all() and (out[:20] != [10, 200, 30]).any()


def test_edit_only_models_stay_off_the_generate_form(alice, replicate_emulator):
    from django.urls import reverse

    html = alice.get(reverse("studio:home")).content.decode()
    assert 'value="flux-fill-pro"' not in html
    data = {"model": "flux-fill-pro", "prompt": "x", "size": "1024x1024", "quality": "standard", "n": "1"}
    response = alice.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "open an image in the editor" in response.content.decode()
    edit = alice.get(
        reverse("studio:editor_fields"), {"operation": "outpaint"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'value="flux-fill-pro"' in edit


@pytest.mark.parametrize("model", ["flux-canny-pro", "flux-depth-pro"])
def test_flux_control_models_send_the_source_as_control_image(replicate_emulator, model):
    result = provider.generate(
        request(model, operation=Operation.CONTROL, image=png_bytes(64, 48), width=64, height=48)
    )
    sent = replicate_emulator.requests[0].json["input"]
    assert sent["control_image"].startswith("data:image/png;base64,") and sent["prompt"] == "a lighthouse at dusk"
    assert PILImage.open(io.BytesIO(result.images[0].data)).size == (64, 48)


def test_flux_redux_varies_the_source(replicate_emulator):
    result = provider.generate(
        request("flux-redux-dev", operation=Operation.VARIATION, image=png_bytes(64, 64), width=64, height=64, n=2)
    )
    sent = replicate_emulator.requests[0].json["input"]
    assert sent["redux_image"].startswith("data:") and "prompt" not in sent and sent["num_outputs"] == 2
    assert len(result.images) == 2
