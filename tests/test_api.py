"""JSON API v1 with bearer tokens: catalog, jobs, images; every bad input is a 4xx with JSON."""

import json

import pytest
from django.test import Client

from accounts.models import ApiToken, hash_token
from studio.models import Job
from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(user):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="test", digest=hash_token(raw), hint=raw[:8])
    return raw


@pytest.fixture
def api(token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post_job(api, payload):
    return api.post("/api/v1/jobs", json.dumps(payload), content_type="application/json")


@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/images", "/api/v1/jobs/1"])
def test_calls_without_a_token_get_401_json(client, path):
    response = client.get(path)
    assert response.status_code == 401 and "Bearer" in response.json()["error"]["message"]


def test_a_wrong_or_revoked_token_gets_401(token, user):
    bad = Client(HTTP_AUTHORIZATION="Bearer atl_nope")
    assert bad.get("/api/v1/models").status_code == 401
    ApiToken.objects.all().delete()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/models").status_code == 401


def test_models_lists_the_catalog_with_availability(api):
    models = {m["id"]: m for m in api.get("/api/v1/models").json()["models"]}
    assert models["offline"]["enabled"] is True
    assert models["gpt-image-2"]["enabled"] is False and models["gpt-image-2"]["disabled_reason"]
    assert {"aspect_ratio": "16:9", "size": "1344x768", "width": 1344, "height": 768, "name": ""} in models["sdxl-1.0"][
        "sizes"
    ]
    assert models["sdxl-1.0"]["max_n_by_operation"]["upscale"] == 1
    assert models["stable-image-core"]["negative_prompt_by_operation"]["outpaint"] is False
    assert models["sdxl-1.0"]["options"][0] == {
        "name": "cfg_scale",
        "label": "CFG scale",
        "type": "float",
        "default": 7.0,
        "min": 0,
        "max": 35,
        "operations": ["edit", "generate", "remix"],
    }


def test_create_a_job_then_read_it_with_images(api, user, run_jobs_inline):
    with run_jobs_inline(execute=True):
        response = post_job(
            api, {"model": "offline", "prompt": "a castle", "aspect_ratio": "16:9", "quality": "draft", "seed": 5}
        )
    assert response.status_code == 201
    job_id = response.json()["id"]
    assert response["Location"].endswith(f"/api/v1/jobs/{job_id}")
    body = api.get(f"/api/v1/jobs/{job_id}").json()
    assert body["status"] == "succeeded" and body["params"]["width"] == 1344 and body["params"]["seed"] == 5
    image = body["images"][0]
    assert image["seed"] == 5 and image["url"].endswith(f"/gallery/{image['id']}/image/")
    assert api.get(image["url"]).status_code == 200  # the token also opens the image file


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({"model": "offline", "prompt": ""}, "prompt", "Write a prompt"),
        ({"model": "offline", "prompt": "x" * 3000}, "prompt", "at most 2000"),
        ({"model": "offline", "prompt": "x", "size": "1792x1024"}, "size", "does not offer"),
        ({"model": "offline", "prompt": "x", "quality": "ultra"}, "quality", "no quality"),
        ({"model": "offline", "prompt": "x", "n": 9}, "n", "between 1 and 4"),
        ({"model": "nope", "prompt": "x"}, "model", "Unknown model"),
        ({"model": "dall-e-3", "prompt": "x"}, "model", "not available"),
        ({"model": "offline", "prompt": "x", "options": {"foo": 1}}, "options", "has no option “foo”"),
        ({"model": "offline", "prompt": "x", "seed": "abc"}, "seed", "whole number"),
        ({"model": "offline", "prompt": "x", "options": [1, 2]}, "options", "a JSON object"),
    ],
)
def test_bad_input_is_400_with_field_messages_and_no_job(api, payload, field, text):
    response = post_job(api, payload)
    assert response.status_code == 400
    assert text in " ".join(response.json()["error"]["fields"][field])
    assert not Job.objects.exists()


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_400(api, body):
    response = api.post("/api/v1/jobs", body, content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]


def test_jobs_of_other_users_are_404(api, other_user):
    job = make_job(owner=other_user)
    assert api.get(f"/api/v1/jobs/{job.pk}").status_code == 404


def test_images_are_cursor_paginated(api, user):
    job = make_job(owner=user, status="succeeded")
    for _ in range(50):
        make_image(job, with_files=False)
    first = api.get("/api/v1/images").json()
    assert len(first["images"]) == 48 and first["next_cursor"]
    second = api.get("/api/v1/images", {"cursor": first["next_cursor"]}).json()
    assert len(second["images"]) == 2 and second["next_cursor"] is None
    assert api.get("/api/v1/images", {"cursor": "???"}).status_code == 400
    assert api.get("/api/v1/images", {"model": "nope"}).status_code == 400


def b64(data: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_edit_jobs_through_the_api(api, user, run_jobs_inline):
    from PIL import Image as PILImage

    from studio import imaging
    from tests.factories import png_bytes

    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 32))
    with run_jobs_inline(execute=True):
        response = post_job(api, {"operation": "edit", "model": "offline", "prompt": "p", "quality": "draft",
                                  "image": b64(png_bytes()), "mask": b64(imaging.png_bytes(mask))})  # fmt: skip
    assert response.status_code == 201, response.json()
    job = api.get(f"/api/v1/jobs/{response.json()['id']}").json()
    assert job["operation"] == "edit" and job["status"] == "succeeded"
    parent = job["images"][0]["id"]
    with run_jobs_inline(execute=True):
        outpaint = post_job(api, {"operation": "outpaint", "model": "offline", "prompt": "p", "quality": "draft",
                                  "source_image": parent, "extend": {"right": 16}})  # fmt: skip
    assert outpaint.status_code == 201 and outpaint.json()["source_image"] == parent
    assert outpaint.json()["params"]["width"] == 80


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({"operation": "edit", "image": "%%%"}, "image", "base64"),
        ({"operation": "edit"}, "image", "Send the image to edit"),
        ({"operation": "edit", "image": "IMG", "mask": "SMALL"}, "mask", "must match"),
        ({"operation": "outpaint", "image": "IMG", "extend": [1]}, "extend", "left, top"),
        ({"operation": "sharpen", "image": "IMG"}, "operation", "Unknown operation “sharpen”"),
    ],
)
def test_bad_edit_requests_are_400(api, payload, field, text):
    from studio import imaging
    from tests.factories import png_bytes

    replacements = {
        "IMG": b64(png_bytes()),
        "SMALL": b64(imaging.png_bytes(__import__("PIL.Image").Image.new("L", (8, 8), 255))),
    }
    payload = {
        "model": "offline",
        "prompt": "p",
        **{k: replacements.get(v, v) if isinstance(v, str) else v for k, v in payload.items()},
    }
    response = post_job(api, payload)
    assert response.status_code == 400
    assert text in " ".join(response.json()["error"]["fields"][field])
    assert not Job.objects.exists()


def test_reference_images_through_the_api(api, openai_emulator, run_jobs_inline):
    from PIL import Image as PILImage

    from studio import imaging
    from tests.factories import png_bytes

    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 32))
    payload = {"operation": "edit", "model": "gpt-image-1.5", "prompt": "p", "quality": "low",
               "image": b64(png_bytes()), "mask": b64(imaging.png_bytes(mask)),
               "references": [b64(png_bytes(16, 16)), b64(png_bytes(24, 24))]}  # fmt: skip
    with run_jobs_inline(execute=True):
        response = post_job(api, payload)
    assert response.status_code == 201, response.json()
    assert len(openai_emulator.requests[-1].file_lists["image[]"]) == 3


# --- POST /api/v1/jobs/<id>/retry -------------------------------------------------------------

VALID = {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "draft", "n": 1, "seed": 7,
         "options": {}}  # fmt: skip


def retry(api, job, body=None):
    return api.post(f"/api/v1/jobs/{job.pk}/retry", json.dumps(body or {}), content_type="application/json")


def test_retry_a_failed_job_through_the_api(api, user, run_jobs_inline):
    failed = make_job(owner=user, status=Job.Status.FAILED, error_kind="unavailable", params=VALID)
    with run_jobs_inline(execute=True):
        response = retry(api, failed)
    assert response.status_code == 201, response.content
    body = response.json()
    new = Job.objects.exclude(pk=failed.pk).get()
    assert body["id"] == new.pk and body["retry"] == {"of": failed.pk, "collects": False}
    assert response["Location"].endswith(f"/api/v1/jobs/{new.pk}")
    assert (new.prompt, new.params) == (failed.prompt, failed.params)
    new.refresh_from_db()
    assert new.status == Job.Status.SUCCEEDED


def timed_out_prediction(user, settings):
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "replicate": {"api_key": "k", "base_url": "http://x"}}
    return make_job(
        owner=user,
        status=Job.Status.FAILED,
        model_id="flux-schnell",
        params={**VALID, "quality": "standard"},
        error_kind="timeout",
        provider_job_id="pred1",
        error_message="Replicate did not finish in time.",
        result_held=True,
    )


def test_retry_collects_a_result_the_provider_may_still_hold(api, user, settings):
    failed = timed_out_prediction(user, settings)
    assert api.get(f"/api/v1/jobs/{failed.pk}").json()["retry_collects"] is True
    response = retry(api, failed)
    assert response.status_code == 201 and response.json()["retry"]["collects"] is True
    assert Job.objects.get(pk=response.json()["id"]).provider_job_id == "pred1"


def test_retry_with_fresh_buys_anew(api, user, settings):
    failed = timed_out_prediction(user, settings)
    response = retry(api, failed, {"fresh": True})
    assert response.status_code == 201 and response.json()["retry"]["collects"] is False
    assert Job.objects.get(pk=response.json()["id"]).provider_job_id == ""


def test_retry_of_a_setting_that_no_longer_holds_is_400_by_field(api, user):
    failed = make_job(owner=user, status=Job.Status.FAILED, params={**VALID, "quality": "hd"})
    response = retry(api, failed)
    assert response.status_code == 400
    assert "no quality “hd”" in " ".join(response.json()["error"]["fields"]["quality"])
    assert Job.objects.count() == 1


@pytest.mark.parametrize("status", [Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.SUCCEEDED])
def test_retry_of_a_job_that_is_not_failed_or_canceled_is_409(api, user, status):
    job = make_job(owner=user, status=status, params=VALID)
    response = retry(api, job)
    assert response.status_code == 409 and response.json()["error"]["kind"] == "not_retryable"
    assert Job.objects.count() == 1


@pytest.mark.parametrize("body", [b"[1]", b"{", b'{"fresh": "yes"}'])
def test_retry_with_a_bad_body_is_400(api, user, body):
    failed = make_job(owner=user, status=Job.Status.FAILED, params=VALID)
    response = api.post(f"/api/v1/jobs/{failed.pk}/retry", body, content_type="application/json")
    assert response.status_code == 400 and Job.objects.count() == 1


def test_retry_of_another_users_job_is_404_and_needs_a_read_write_token(api, user, other_user):
    theirs = make_job(owner=other_user, status=Job.Status.FAILED, params=VALID)
    assert retry(api, theirs).status_code == 404
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="ro", digest=hash_token(raw), hint=raw[:8], scope=ApiToken.Scope.READ)
    mine = make_job(owner=user, status=Job.Status.FAILED, params=VALID)
    response = retry(Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), mine)
    assert response.status_code == 403 and response.json()["error"]["kind"] == "read_only_token"
    assert api.get(f"/api/v1/jobs/{mine.pk}/retry").status_code == 405
    assert Job.objects.count() == 2
