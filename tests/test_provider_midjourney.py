"""Midjourney through midjourney-proxy: prompt flags, progress, grid split, U/V follow-ups."""

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage

from studio import catalog, tasks
from studio.catalog import Operation
from studio.models import Job
from studio.providers import midjourney as provider
from studio.providers.base import ErrorKind, GenerationRequest, ProviderError
from tests.emulators.base import Fault
from tests.factories import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)


def request(**overrides):
    model = catalog.MODELS["midjourney-v7"]
    fields = {
        "operation": Operation.GENERATE,
        "model": model,
        "prompt": "a paper crane",
        "negative_prompt": "",
        "width": 1456,
        "height": 816,
        "quality": "2",
        "n": 1,
        "seed": 1234,
        "options": {o.name: o.default for o in model.options},
    }
    fields.update(overrides)
    return GenerationRequest(**fields)


def test_the_prompt_carries_the_pickers_as_flags():
    options = {"stylize": 250, "chaos": 20, "weird": 0, "style_raw": True, "tile": False}
    text = provider.prompt_with_parameters(request(options=options, negative_prompt="text, watermark"))
    assert (
        text
        == "a paper crane --ar 16:9 --v 7 --q 2 --stylize 250 --chaos 20 --style raw --seed 1234 --no text, watermark"
    )


def test_imagine_is_polled_with_progress_and_the_grid_is_split(midjourney_proxy):
    progress = []
    result = provider.generate(request(progress=lambda tid, pct: progress.append(pct) or True))
    submit = midjourney_proxy.requests[0]
    assert submit.path == "/mj/submit/imagine" and submit.headers["mj-api-secret"] == "mj-secret"
    assert submit.json["prompt"].endswith("--seed 1234")
    assert progress[-1] == 100 and any(p is not None and p < 100 for p in progress)
    grid, *quads = [PILImage.open(io.BytesIO(i.data)) for i in result.images]
    assert grid.size == (2912, 1632) and [q.size for q in quads] == [(1456, 816)] * 4
    assert np.array_equal(np.asarray(quads[3]), np.asarray(grid.convert("RGB"))[816:, 1456:])
    assert result.usage["grid"] and len(result.usage["buttons"]) == 8


@pytest.mark.parametrize("flavor", ["csharp", "java"])
def test_upscale_follow_up_uses_buttons_or_change(midjourney_proxy, flavor):
    midjourney_proxy.flavor = flavor
    first = provider.generate(request())
    options = {"mj_task": first.provider_job_id, "mj_action": "U3", "mj_buttons": first.usage["buttons"]}
    result = provider.generate(request(operation=Operation.UPSCALE, options=options))
    follow = next(r for r in midjourney_proxy.requests if r.path in ("/mj/submit/action", "/mj/submit/change"))
    if flavor == "csharp":
        assert follow.path == "/mj/submit/action" and follow.json["customId"].startswith("MJ::JOB::upsample::3::")
    else:
        assert follow.path == "/mj/submit/change" and follow.json == {
            "taskId": first.provider_job_id,
            "action": "UPSCALE",
            "index": 3,
        }
    assert len(result.images) == 1


@pytest.mark.parametrize(
    ("prompt", "flavor", "kind", "text"),
    [
        ("something forbidden", "csharp", ErrorKind.CONTENT_POLICY, "forbidden"),
        ("something forbidden", "java", ErrorKind.CONTENT_POLICY, "forbidden"),
    ],
)
def test_banned_words_are_refused_whatever_the_http_status(midjourney_proxy, prompt, flavor, kind, text):
    midjourney_proxy.flavor = flavor
    with pytest.raises(ProviderError) as exc:
        provider.generate(request(prompt=prompt))
    assert exc.value.kind == kind and text in exc.value.message


def test_a_wrong_secret_is_an_auth_failure(midjourney_proxy, settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "midjourney": {"api_key": "nope", "base_url": midjourney_proxy.url},
    }
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.AUTH


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (
            Fault(status=200, body={"code": 23, "description": "queue is full, please try again later"}),
            ErrorKind.RATE_LIMITED,
        ),
        (Fault(status=502, body=b"bad gateway"), ErrorKind.UNAVAILABLE),
        (Fault(malformed=True), ErrorKind.UNAVAILABLE),
    ],
)
def test_faults_map_to_error_kinds(midjourney_proxy, fault, kind):
    midjourney_proxy.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == kind


def test_grid_buttons_on_the_detail_page_run_follow_up_jobs(midjourney_proxy, alice, user, run_jobs_inline):
    params = {
        "width": 1024,
        "height": 1024,
        "aspect_ratio": "1:1",
        "quality": "1",
        "n": 1,
        "seed": 5,
        "options": {"stylize": 100},
    }
    job = make_job(owner=user, model_id="midjourney-v7", params=params)
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.images.count() == 5 and job.progress == 100
    grid = job.images.get(index=0)
    html = alice.get(reverse("gallery:detail", args=[grid.pk])).content.decode()
    assert 'value="U1"' in html and 'value="V4"' in html
    with run_jobs_inline(execute=True):
        response = alice.post(reverse("studio:midjourney_action", args=[grid.pk]), {"action": "V2"})
    follow = Job.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("studio:job", args=[follow.pk])
    assert follow.operation == "variation" and follow.source_image == grid
    assert follow.status == "succeeded", follow.error_message
    assert follow.images.count() == 5  # a variation is a new grid
    response = alice.post(
        reverse("studio:midjourney_action", args=[follow.images.first().pk]), {"action": "X9"}, follow=True
    )
    assert "works only on a Midjourney grid" in response.content.decode()
