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
    assert {"aspect_ratio": "16:9", "size": "1344x768", "width": 1344, "height": 768} in models["sdxl-1.0"]["sizes"]
    assert models["sdxl-1.0"]["options"][0] == {
        "name": "cfg_scale",
        "label": "CFG scale",
        "type": "float",
        "default": 7.0,
        "min": 0,
        "max": 35,
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
