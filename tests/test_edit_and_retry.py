"""Edit and retry of an editor job: the editor opens with the failed job's own settings (not the
source image's), on the image it started from, with what no longer holds marked."""

import re

import pytest
from django.urls import reverse

from studio.models import Job
from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def params(**overrides):
    base = {"version": 2, "width": 1024, "height": 768, "aspect_ratio": "4:3", "quality": "standard", "n": 1,
            "seed": 3, "options": {}}  # fmt: skip
    return {**base, **overrides}


@pytest.fixture
def replicate_configured(settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "replicate": {"api_key": "test", "base_url": "http://replicate.invalid"},
    }


def edit_and_retry_link(client, job) -> str:
    card = client.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()
    link = re.search(r'href="([^"]*)"[^>]*>Edit and retry', card)
    assert link, card
    return link.group(1).replace("&amp;", "&")


def test_an_instruct_job_reopens_with_its_own_settings_and_the_stale_one_marked(alice, user, replicate_configured):
    parent = make_job(owner=user, status=Job.Status.SUCCEEDED, prompt="PARENT PROMPT a harbour")
    image = make_image(parent)
    options = {"safety_tolerance": 5, "output_format": "png", "prompt_upsampling": True}
    failed = make_job(owner=user, model_id="flux-kontext-pro", operation="instruct", prompt="make it night",
                      source_image=image, status="failed", params=params(seed=77, options=options))  # fmt: skip
    link = edit_and_retry_link(alice, failed)
    assert link == f"{reverse('studio:editor')}?job={failed.pk}"

    html = alice.get(link).content.decode()
    assert "make it night" in html and "PARENT PROMPT" not in html
    assert re.search(r'<option value="flux-kontext-pro"[^>]*selected', html)
    assert re.search(r'name="operation" value="instruct" checked', html)
    assert f'data-src="{reverse("gallery:file", args=[image.pk])}"' in html
    assert 'value="77"' in html and re.search(r'name="opt_prompt_upsampling"[^>]*checked', html)
    # Marked on its own field, as Retry words it.
    assert re.search(r'id="opt_safety_tolerance-error">Safety tolerance goes from 0 to 2; 5 is outside', html)
    assert "What no longer holds is marked" in html


def test_an_outpaint_keeps_its_sides_and_a_remix_its_strength(alice, user):
    image = make_image(make_job(owner=user, status=Job.Status.SUCCEEDED))
    outpaint = make_job(owner=user, operation="outpaint", source_image=image, status=Job.Status.FAILED,
                        params=params(edit={"extend": {"left": 0, "top": 64, "right": 128, "bottom": 0}}))  # fmt: skip
    html = alice.get(edit_and_retry_link(alice, outpaint)).content.decode()
    assert re.search(r'name="extend_top" value="64"', html) and re.search(r'name="extend_right" value="128"', html)
    assert "Settings from the job. Change anything." in html and "What no longer holds" not in html

    remix = make_job(owner=user, operation="remix", source_image=image, status=Job.Status.CANCELED,
                     params=params(edit={"strength": 0.35}))  # fmt: skip
    html = alice.get(edit_and_retry_link(alice, remix)).content.decode()
    assert re.search(r'id="id_strength" type="range" name="strength"[^>]*value="0.35"', html)


def test_a_job_from_an_upload_gets_the_link_and_asks_for_the_image_again(alice, user):
    failed = make_job(owner=user, operation="edit", prompt="a red balloon", status=Job.Status.FAILED,
                      source_file="inputs/a.png", mask_file="masks/a.png", params=params())  # fmt: skip
    html = alice.get(edit_and_retry_link(alice, failed)).content.decode()
    assert "a red balloon" in html and "data-src" not in html
    assert "choose the image again (it was an upload); paint the mask again." in html


def test_a_job_whose_model_is_gone_keeps_its_prompt_and_says_why(alice, user):
    failed = make_job(owner=user, model_id="flux-kontext-old", operation="instruct", prompt="make it night",
                      status=Job.Status.FAILED, params=params())  # fmt: skip
    html = alice.get(f"{reverse('studio:editor')}?job={failed.pk}").content.decode()
    assert "make it night" in html and "Only the prompt could be restored" in html and "no longer exists" in html


def test_another_persons_job_is_not_restored(client_for, other_user, user):
    theirs = make_job(owner=user, operation="remix", prompt="SECRET prompt", status=Job.Status.FAILED,
                      params=params(edit={"strength": 0.3}))  # fmt: skip
    html = client_for(other_user).get(f"{reverse('studio:editor')}?job={theirs.pk}").content.decode()
    assert "SECRET prompt" not in html and "That job no longer exists" in html


def test_a_midjourney_follow_up_has_no_edit_and_retry(alice, user):
    followup = {"task_id": "T1", "action": "U2", "buttons": []}
    job = make_job(owner=user, model_id="midjourney-v7", operation="upscale", status=Job.Status.FAILED,
                   params=params(quality="1", followup=followup))  # fmt: skip
    card = alice.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()
    assert "Edit and retry" not in card and "Retry" in card
