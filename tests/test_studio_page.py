"""The studio page: prompt form, model-driven fields, submitting jobs with htmx and without."""

import pytest
from django.urls import reverse

from studio.models import Job
from tests.factories import make_image

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_login_is_required(client):
    response = client.get(reverse("studio:home"))
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_page_shows_form_models_and_empty_state(alice):
    html = alice.get(reverse("studio:home")).content.decode()
    assert "Offline sketch — not an AI model" in html
    assert "GPT Image 2 — set OPENAI_API_KEY" in html
    assert "Stable Diffusion XL 1.0 — set STABILITY_API_KEY" in html
    assert 'value="gpt-image-2" disabled' in html
    assert "No jobs yet" in html


def test_picking_a_model_swaps_sizes_and_keeps_the_aspect(alice, settings, monkeypatch):
    from studio import providers

    monkeypatch.setitem(providers._IMPLEMENTED, "stability", object())
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "stability": {"api_key": "k", "base_url": "x"}}
    response = alice.get(reverse("studio:model_fields"), {"model": "stable-image-core", "size": "1344x768"}, **HTMX)
    html = response.content.decode()
    assert 'id="model-fields"' in html and "<html" not in html
    assert '<option value="1344x768" selected>16:9 · 1344×768</option>' in html
    assert "Style preset" in html


def submit(client, **fields):
    data = {"model": "offline", "prompt": "a lighthouse", "size": "1024x1024", "quality": "draft", "n": "1"}
    data.update(fields)
    return client.post(reverse("studio:job_submit"), data, **HTMX)


def test_submit_returns_a_watched_card_and_the_job_runs(alice, user, run_jobs_inline):
    with run_jobs_inline(execute=False) as callbacks:
        response = submit(alice, seed="99")
    assert response.status_code == 200
    job = Job.objects.get(owner=user)
    html = response.content.decode()
    assert f'id="job-{job.pk}"' in html and f'name="watch" value="{job.pk}:queued.' in html
    assert 'id="live" hidden' in html and 'hx-swap-oob="true"' in html  # a fresh live poll watches it too
    assert 'hx-swap-oob="true"' in html  # the form is refreshed, errors cleared
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.params["seed"] == 99 and job.images.get().seed == 99


def test_invalid_submit_returns_422_form_with_message_and_no_job(alice):
    response = submit(alice, prompt="", size="1792x1024")
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#job-form" and response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert "Write a prompt" in html and "does not offer 1792×1024" in html
    assert not Job.objects.exists()


def test_form_works_without_javascript(alice):
    response = alice.post(
        reverse("studio:job_submit"),
        {"model": "offline", "prompt": "x", "size": "1024x1024", "quality": "draft", "n": "1"},
    )
    assert response.status_code == 302
    bad = alice.post(
        reverse("studio:job_submit"),
        {"model": "offline", "prompt": "", "size": "1024x1024", "quality": "draft", "n": "1"},
    )
    assert bad.status_code == 422 and b"<html" in bad.content


def test_reuse_settings_refills_the_form(alice):
    image = make_image()
    job = image.job
    job.prompt, job.negative_prompt = "a tiny robot", "blurry"
    job.params = {**job.params, "width": 1344, "height": 768, "quality": "high", "seed": 1234}
    job.save()
    image.seed = 1234
    image.save()
    html = alice.get(reverse("studio:home"), {"reuse": image.pk}).content.decode()
    assert "a tiny robot</textarea>" in html and "blurry</textarea>" in html
    assert '<option value="1344x768" selected>' in html and '<option value="high" selected>' in html
    assert 'value="1234"' in html


def test_reuse_of_a_missing_image_says_so(alice):
    assert "no longer exists" in alice.get(reverse("studio:home"), {"reuse": "999999"}, follow=True).content.decode()
