"""Replicate provider: the real `replicate` SDK against the local predictions emulator."""

import base64
import io
import re
import threading
import time
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest
from PIL import Image as PILImage

from studio import downloads, editing, imaging, jobs, tasks
from studio.catalog import Operation
from studio.models import Job
from studio.providers import replicate as provider
from studio.providers.base import Canceled, ErrorKind, ProviderError
from studio.specs import EditSettings
from tests.conftest import wait_for
from tests.emulators.base import Fault
from tests.factories import make_job, make_request, png_bytes

pytestmark = pytest.mark.django_db

CREATE = "POST /v1/models/"
POLL = "GET /v1/predictions/"


def request(model="flux-schnell", operation=Operation.GENERATE, **fields):
    fields.setdefault("prompt", "a lighthouse at dusk")
    fields.setdefault("seed", 7)
    if operation == Operation.GENERATE:
        fields.setdefault("size", "1344x768")
    return make_request(model, operation, **fields)


def decoded(data):
    return PILImage.open(io.BytesIO(data))


def creates(emulator):
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/predictions")]


@pytest.fixture
def polling(replicate_emulator, monkeypatch, settings):
    """Predictions that take a while and are polled, quickly: no `Prefer: wait` on create."""
    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)
    settings.REPLICATE_WAIT_SECONDS = 0
    replicate_emulator.latency = 0.4
    return replicate_emulator


def job_params(**overrides):
    return {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "standard", "n": 1,
            "seed": 1, "options": {}, **overrides}  # fmt: skip


def test_flux_schnell_generates_with_prefer_wait_and_downloads_outputs(replicate_emulator):
    result = provider.generate(request(n=2))
    create = replicate_emulator.requests[0]
    assert create.path == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert create.headers["prefer"].startswith("wait") and create.headers["authorization"] == "Bearer r8_test_emulator"
    sent = create.json["input"]
    assert sent["aspect_ratio"] == "16:9" and sent["num_outputs"] == 2 and sent["seed"] == 7
    assert sent["num_inference_steps"] == 4 and sent["output_format"] == "webp" and sent["go_fast"] is True
    assert [decoded(i.data).size for i in result.images] == [(1344, 768)] * 2
    assert result.provider_job_id and result.usage["predict_time"] == 0.2


def test_a_slow_prediction_is_polled_until_it_succeeds(polling):
    seen = []
    result = provider.generate(request("flux-1.1-pro"), progress=lambda pid, pct: seen.append((pid, pct)) or True)
    polls = [r for r in polling.requests if r.method == "GET" and r.path.startswith("/v1/predictions/")]
    assert polls and len(result.images) == 1  # pro models answer with one URL, not a list
    assert seen[0][0] == result.provider_job_id and seen[-1][1] == 100


def test_progress_is_read_from_the_models_progress_bar_in_its_logs(polling):
    polling.latency = 2.5  # the emulator draws the image within it (up to ~1 s on a loaded machine)
    seen = []
    provider.generate(request("flux-1.1-pro"), progress=lambda pid, pct: seen.append(pct) or True)
    percents = [pct for pct in seen if pct is not None]
    assert percents == sorted(percents) and percents[-1] == 100
    assert any(0 < pct < 100 for pct in percents), seen  # a step's bar, before the end


def test_a_user_cancel_is_forwarded_to_replicate(polling):
    polling.latency = 5
    with pytest.raises(Canceled):
        provider.generate(request(), progress=lambda pid, pct: False)
    assert polling.requests[-1].path.endswith("/cancel")
    assert next(iter(polling.predictions.values())).status == "canceled"


def test_the_deadline_cancels_a_prediction_known_to_be_running(polling, settings):
    polling.latency = 5
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 0.3
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.TIMEOUT and exc.value.may_be_paid and not exc.value.result_held
    assert "still running" in exc.value.message and "Atelier canceled it" in exc.value.message
    assert polling.requests[-1].path.endswith("/cancel")
    assert len(creates(polling)) == 1


def cancels(emulator):
    return [r for r in emulator.requests if r.path.endswith("/cancel")]


def test_a_poll_outage_until_the_deadline_leaves_the_prediction_for_retry_to_collect(polling, settings, runner_waits):
    """Every poll fails: whether the prediction finished (and was paid for) is unknown, so it is not
    canceled; the job says why it stopped, and its prediction id stays for Retry to collect."""
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 1.0
    polling.faults.append(Fault(on=POLL, status=500, body={"title": "Internal", "detail": "boom"}, times=1000))
    job = make_job(model_id="flux-schnell", params=job_params())
    assert tasks.run_job(job.pk) == "failed: unavailable"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and len(creates(polling)) == 1 and cancels(polling) == []
    assert "(500): boom" in job.error_message and jobs.COLLECT_ADVICE in job.error_message
    assert job.result_held and jobs.ANEW_ADVICE not in job.error_message
    prediction = polling.predictions[job.provider_job_id]
    assert not prediction.canceled
    # What Retry does with the kept id: it polls the prediction, and buys nothing.
    polling.faults.clear()
    collect = make_job(model_id="flux-schnell", params=job_params(), provider_job_id=job.provider_job_id)
    assert tasks.run_job(collect.pk) == "succeeded"
    assert len(creates(polling)) == 1 and collect.images.count() == 1


def test_resume_collects_a_prediction_that_already_succeeded(replicate_emulator):
    first = provider.generate(request("flux-1.1-pro"))
    again = provider.resume(request("flux-1.1-pro"), first.provider_job_id)
    assert again.images[0].data == first.images[0].data and len(creates(replicate_emulator)) == 1


def prediction_id(prompt="a lighthouse", *, cancel=False):
    """The id of a prediction that failed (its prompt is refused) or that the user canceled."""
    seen = []
    with pytest.raises((ProviderError, Canceled)):
        provider.generate(request(prompt=prompt), lambda pid, pct: seen.append(pid) or not cancel)
    return seen[0]


@pytest.mark.parametrize(
    ("prompt", "cancel", "kind", "text"),
    [
        ("something forbidden", False, ErrorKind.CONTENT_POLICY, "NSFW"),
        ("a lighthouse", True, ErrorKind.INVALID_REQUEST, "canceled"),
    ],
)
def test_resume_of_a_failed_or_canceled_prediction_is_its_error_not_a_purchase(polling, prompt, cancel, kind, text):
    polling.latency = 5 if cancel else 0.3
    pid = prediction_id(prompt, cancel=cancel)
    with pytest.raises(ProviderError) as exc:
        provider.resume(request(prompt=prompt), pid)
    assert exc.value.kind == kind and text in exc.value.message
    assert not exc.value.may_be_paid and not exc.value.kind.retryable
    assert len(creates(polling)) == 1


def test_collecting_a_canceled_prediction_fails_the_job_with_its_reason(polling, runner_waits):
    polling.latency = 5
    pid = prediction_id(cancel=True)
    job = make_job(model_id="flux-schnell", params=job_params(), provider_job_id=pid)
    assert tasks.run_job(job.pk) == "failed: invalid_request"
    job.refresh_from_db()
    assert job.error_message == f"Replicate canceled prediction {pid} before it made an image."
    assert len(creates(polling)) == 1 and runner_waits == []


def test_polling_ends_in_time_for_the_job_after_retries_used_up_its_time(polling, settings, runner_waits):
    """The first create fails slowly, the second succeeds: the poll ends one provider timeout
    before the job's own timeout (not at the provider's fresh deadline, nor in django-q2's timeout),
    and the prediction it stops waiting for is canceled."""
    settings.JOB_TIMEOUT_SECONDS = 3
    settings.PROVIDER_TIMEOUT_SECONDS = 1.0
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 60
    settings.JOB_BACKOFF_MAX_SECONDS = 0
    polling.latency = 60
    polling.faults.append(Fault(on=CREATE, status=503, body={"title": "Unavailable", "detail": "busy"}, delay=0.5))
    job = make_job(model_id="flux-schnell", params=job_params())
    started = time.monotonic()
    assert tasks.run_job(job.pk) == "failed: timeout"
    took = time.monotonic() - started
    job.refresh_from_db()
    assert 1.8 < took < settings.JOB_TIMEOUT_SECONDS
    assert job.attempts == 2 and len(creates(polling)) == 2 and len(cancels(polling)) == 1
    assert re.search(r"still running after \d s, so Atelier canceled it", job.error_message)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(on=POLL, status=500, body={"title": "Internal", "detail": "boom", "status": 500}),
        Fault(on=POLL, status=503, body={"title": "Unavailable", "detail": "busy"}, headers={"retry-after": "0"}),
        Fault(on=POLL, status=429, body={"title": "Throttled", "detail": "slow down"}, headers={"retry-after": "0"}),
        Fault(on=POLL, malformed=True),
        Fault(on=POLL, status=200, body={}),
        Fault(on=POLL, drop=True),
    ],
)
def test_a_failed_poll_is_polled_again_and_the_prediction_is_bought_once(polling, fault):
    polling.faults.append(fault)
    result = provider.generate(request())
    assert len(creates(polling)) == 1 and len(result.images) == 1
    assert not polling.faults  # the fault was hit
    polls = [r for r in polling.requests if r.method == "GET" and r.path.startswith("/v1/predictions/")]
    assert len(polls) >= 2


def test_a_500_while_polling_does_not_rebuy_the_job(polling, runner_waits):
    """The whole path: the job runner sees no failure, so it never creates a second prediction."""
    polling.faults.extend([Fault(on=POLL, status=500, body={"detail": "boom"}), Fault(on=POLL, malformed=True)])
    job = make_job(model_id="flux-schnell", params=job_params())
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and len(creates(polling)) == 1 and not polling.faults


def test_a_succeeded_prediction_whose_output_is_not_urls_is_polled_again(polling):
    odd = {"id": "x", "model": "m", "version": "v", "status": "succeeded", "input": {}, "output": [{"url": 1}],
           "logs": "", "error": None, "metrics": {}, "created_at": None, "started_at": None, "completed_at": None,
           "urls": {}}  # fmt: skip
    polling.faults.append(Fault(on=POLL, status=200, body=odd))
    result = provider.generate(request())
    assert len(result.images) == 1 and len(creates(polling)) == 1 and not polling.faults


def test_a_malformed_200_on_create_is_not_bought_again(replicate_emulator, runner_waits):
    # The prediction may exist (and be billed) though its answer was unreadable: not created twice.
    replicate_emulator.faults.append(Fault(on=CREATE, malformed=True))
    job = make_job(model_id="flux-schnell", params=job_params())
    assert tasks.run_job(job.pk) == "failed: unavailable"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and len(creates(replicate_emulator)) == 1
    assert "did not try again" in job.error_message


@pytest.mark.parametrize(
    "fault",
    [Fault(malformed=True), Fault(status=200, body=b""), Fault(status=201, body={"id": 3}), Fault(status=201, body=[])],
)
def test_a_malformed_answer_to_create_is_unavailable(replicate_emulator, fault):
    replicate_emulator.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.UNAVAILABLE and exc.value.may_be_paid and "could not read" in exc.value.message


def test_flux_dev_remix_sends_the_image_and_strength(replicate_emulator):
    remix = request("flux-dev", Operation.REMIX, source=png_bytes(), size="1024x1024", edit=EditSettings(strength=0.3))
    provider.generate(remix)
    sent = replicate_emulator.requests[0].json["input"]
    assert sent["image"].startswith("data:image/png;base64,") and sent["prompt_strength"] == 0.3


def test_invalid_input_is_an_invalid_request_with_replicates_words(replicate_emulator):
    # A setting the catalog allowed but Replicate's schema no longer does.
    valid = request()
    with pytest.raises(ProviderError) as exc:
        provider.generate(replace(valid, options=MappingProxyType({**valid.options, "num_inference_steps": 9})))
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
        (Fault(status=409, body={"title": "Conflict", "detail": "try again"}), ErrorKind.UNAVAILABLE),
        (Fault(status=422, body={"title": "Invalid", "detail": "- input.prompt: bad"}), ErrorKind.INVALID_REQUEST),
    ],
)
def test_faults_on_create_map_to_error_kinds(replicate_emulator, fault, kind):
    replicate_emulator.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == kind and fault.body["detail"] in exc.value.message
    if kind == ErrorKind.RATE_LIMITED:
        assert exc.value.retry_after == 1
    assert len(replicate_emulator.requests) == 1  # the SDK does not retry; Atelier decides


def test_canceling_the_job_in_the_studio_cancels_the_prediction(polling, transactional_db):
    """The whole path: the worker runs the job, the user cancels, Replicate is told."""
    polling.latency = 10
    job = make_job(model_id="flux-schnell", params=job_params())
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(tasks.run_job(job.pk)))
    worker.start()
    assert wait_for(lambda: Job.objects.get(pk=job.pk).provider_job_id, timeout=10)
    jobs.job_cancel(job=Job.objects.get(pk=job.pk))
    worker.join(timeout=10)
    assert outcome == ["discarded: canceled while running"]
    assert any(r.path.endswith("/cancel") for r in polling.requests)
    assert Job.objects.get(pk=job.pk).status == "canceled"


def test_flux_fill_inpaints_with_the_mask_white_where_painted(replicate_emulator):
    mask = PILImage.new("L", (256, 256), 0)
    mask.paste(255, (0, 0, 256, 80))
    source = png_bytes(256, 256, (10, 200, 30))
    result = provider.generate(request("flux-fill-pro", Operation.EDIT, source=source, mask=imaging.png_bytes(mask)))
    sent = replicate_emulator.requests[0]
    assert sent.path == "/v1/models/black-forest-labs/flux-fill-pro/predictions"
    assert "aspect_ratio" not in sent.json["input"]
    out = np.asarray(decoded(result.images[0].data).convert("RGB"), dtype=int)
    assert (out[80:] == [10, 200, 30]).all() and (out[:80] != [10, 200, 30]).any()


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
    kind = "edges" if "canny" in model else "depth"
    control = request(model, Operation.CONTROL, source=png_bytes(320, 256), edit=EditSettings(control_kind=kind))
    result = provider.generate(control)
    sent = replicate_emulator.requests[0].json["input"]
    assert sent["control_image"].startswith("data:image/png;base64,") and sent["prompt"] == "a lighthouse at dusk"
    assert decoded(result.images[0].data).size == (320, 256)


def test_flux_redux_varies_the_source(replicate_emulator):
    result = provider.generate(request("flux-redux-dev", Operation.VARIATION, source=png_bytes(256, 256), n=2))
    sent = replicate_emulator.requests[0].json["input"]
    assert sent["redux_image"].startswith("data:") and "prompt" not in sent and sent["num_outputs"] == 2
    assert sent["aspect_ratio"] == "1:1" and len(result.images) == 2


def test_redux_of_a_1000x1500_image_keeps_2_3(replicate_emulator, user):
    """Through the editor's service, the job row and the runner: the aspect ratio survives."""
    edit = editing.prepare(model="flux-redux-dev", operation="variation", source=png_bytes(1000, 1500), seed=3)
    job = jobs.job_create_edit(owner=user, edit=edit)
    assert tasks.run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error_message
    sent = creates(replicate_emulator)[0].json["input"]
    assert sent["aspect_ratio"] == "2:3"
    width, height = decoded(data_url_bytes(sent["redux_image"])).size  # fitted to Flux's grid of 8
    assert width == 1000 and abs(height - 1500) < 8
    image = Job.objects.get(pk=job.pk).images.get()
    assert (image.width, image.height) == (832, 1216)


def data_url_bytes(value):
    return base64.b64decode(value.split(",", 1)[1])


def test_kontext_instruct_sends_input_image_and_matches_its_aspect(replicate_emulator):
    source = png_bytes(512, 768, (30, 60, 90))
    result = provider.generate(
        request("flux-kontext-pro", Operation.INSTRUCT, source=source, prompt="make it night", seed=11)
    )
    sent = creates(replicate_emulator)[0]
    assert sent.path == "/v1/models/black-forest-labs/flux-kontext-pro/predictions"
    data = sent.json["input"]
    assert data["aspect_ratio"] == "match_input_image" and data["prompt"] == "make it night" and data["seed"] == 11
    assert decoded(data_url_bytes(data["input_image"])).getpixel((3, 3)) == (30, 60, 90)
    assert "input_images" not in data and data["safety_tolerance"] == 2
    assert decoded(result.images[0].data).size == (512, 768)


def test_kontext_generates_from_a_prompt_alone_with_an_aspect_ratio(replicate_emulator):
    provider.generate(request("flux-kontext-max", size="1344x768"))
    data = creates(replicate_emulator)[0].json["input"]
    assert data["aspect_ratio"] == "16:9" and "input_image" not in data


def test_flux_2_instruct_sends_the_source_first_then_the_references(replicate_emulator):
    refs = (png_bytes(64, 64, (255, 0, 0)), png_bytes(96, 96, (0, 0, 255)))
    source = png_bytes(512, 768, (10, 20, 30))
    result = provider.generate(request("flux-2-pro", Operation.INSTRUCT, source=source, references=refs))
    data = creates(replicate_emulator)[0].json["input"]
    assert data["aspect_ratio"] == "match_input_image"
    images = [decoded(data_url_bytes(url)) for url in data["input_images"]]
    assert [i.size for i in images] == [(512, 768), (64, 64), (96, 96)]
    assert [i.getpixel((1, 1)) for i in images] == [(10, 20, 30), (255, 0, 0), (0, 0, 255)]
    assert decoded(result.images[0].data).size == (512, 768)


def test_calls_reuse_the_client_and_its_connection(replicate_emulator):
    provider.generate(request())
    provider.generate(request())
    api = [r for r in replicate_emulator.requests if r.path.startswith("/v1/")]
    assert len(api) == 2 and len({r.connection for r in api}) == 1


FILES = "GET /files/"


@pytest.fixture
def quick_downloads(monkeypatch):
    monkeypatch.setattr(downloads, "RETRY_SECONDS", 0.01)


def file_fetches(emulator):
    return [r for r in emulator.requests if r.path.startswith("/files/")]


@pytest.mark.parametrize("fault", [Fault(on=FILES, status=502, body=b"bad gateway"), Fault(on=FILES, drop=True)])
def test_a_passing_failure_of_the_result_download_is_tried_again(
    replicate_emulator, runner_waits, quick_downloads, fault
):
    """The prediction was paid for: one bad answer from the file host does not throw it away."""
    replicate_emulator.faults.append(fault)
    job = make_job(model_id="flux-1.1-pro", params=job_params())
    assert tasks.run_job(job.pk) == "succeeded"
    assert len(creates(replicate_emulator)) == 1 and len(file_fetches(replicate_emulator)) == 2
    assert job.images.count() == 1 and not replicate_emulator.faults


def test_a_result_that_cannot_be_downloaded_says_it_was_paid_and_retry_collects_it(
    replicate_emulator, runner_waits, quick_downloads
):
    replicate_emulator.faults.append(Fault(on=FILES, status=503, body=b"", times=3))
    job = make_job(model_id="flux-1.1-pro", params=job_params())
    assert tasks.run_job(job.pk) == "failed: download"
    job.refresh_from_db()
    assert "answered 503 (tried 3 times)" in job.error_message and "has charged for it" in job.error_message
    assert jobs.COLLECT_ADVICE in job.error_message and job.provider_job_id and job.result_held
    collect = make_job(model_id="flux-1.1-pro", params=job_params(), provider_job_id=job.provider_job_id)
    assert tasks.run_job(collect.pk) == "succeeded"
    assert len(creates(replicate_emulator)) == 1 and collect.images.count() == 1


def test_a_result_url_that_answers_404_is_not_tried_again(replicate_emulator, runner_waits, quick_downloads):
    replicate_emulator.faults.append(Fault(on=FILES, status=404, body=b""))
    job = make_job(model_id="flux-1.1-pro", params=job_params())
    assert tasks.run_job(job.pk) == "failed: download"
    job.refresh_from_db()
    assert len(file_fetches(replicate_emulator)) == 1 and runner_waits == []
    assert "answered 404" in job.error_message and "charged" in job.error_message
