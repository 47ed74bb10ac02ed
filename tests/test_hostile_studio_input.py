"""Hostile values sent to the studio's pages and the API get a clear 4xx or a message, never a 5xx."""

import base64
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import ApiToken, hash_token
from studio.metadata import writer
from studio.models import Comparison, Job
from tests.factories import make_image, make_job, png_bytes

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE_IDS = ["²", "٣٣", "1e999", "-1", "9" * 23, "abc", "", "0x10"]


@pytest.fixture
def api(user):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="test", digest=hash_token(raw), hint=raw[:8])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def b64(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def bomb() -> bytes:
    """A PNG whose header declares far more pixels than any cap allows."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_studio_links_with_a_bad_id_say_so(alice, value):
    for query in ("reuse", "job"):
        response = alice.get(reverse("studio:home"), {query: value})
        assert response.status_code == 200


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_a_vote_for_a_bad_column_is_a_message(alice, user, value):
    comparison = Comparison.objects.create(owner=user, prompt="p")
    response = alice.post(reverse("studio:comparison_vote", args=[comparison.pk]), {"winner": value})
    assert response.status_code == 302


@pytest.mark.parametrize("value", HOSTILE_IDS[:6])
def test_the_editor_without_htmx_takes_a_bad_source(alice, value):
    data = {"model": "offline", "operation": "variation", "quality": "draft", "n": "1", "source": value}
    assert alice.post(reverse("studio:editor_submit"), data).status_code == 422


@pytest.mark.parametrize("make_mask", [lambda: b"not an image at all", bomb], ids=["not-an-image", "bomb"])
def test_a_mask_that_is_not_a_usable_image_is_refused_in_the_editor_and_the_api(alice, api, make_mask):
    mask = make_mask()
    data = {"model": "offline", "operation": "edit", "quality": "draft", "n": "1", "prompt": "p",
            "image": SimpleUploadedFile("s.png", png_bytes()), "mask": SimpleUploadedFile("m.png", mask)}  # fmt: skip
    response = alice.post(reverse("studio:editor_submit"), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422 and ("not an image" in html or "decompression bomb" in html)
    payload = {"model": "offline", "operation": "edit", "prompt": "p", "image": b64(png_bytes()), "mask": b64(mask)}
    response = api.post("/api/v1/jobs", json.dumps(payload), content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["fields"]["mask"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("options", [["a", "b"], "cfg_scale=9", 7, None])
def test_an_imported_png_with_odd_settings_restores_what_it_can(alice, options):
    metadata = {"model": "offline", "prompt": "a glass whale", "width": [1], "height": "x", "seed": {"a": 1},
                "options": options}  # fmt: skip
    image = SimpleUploadedFile("i.png", writer.with_png_chunks(png_bytes(), metadata))
    response = alice.post(reverse("studio:settings_import"), {"image": image}, **HTMX)
    assert response.status_code == 200 and "a glass whale</textarea>" in response.content.decode()


@pytest.mark.parametrize("text", ["\ud800 a lone surrogate", "a NUL \x00 inside"])
def test_text_that_cannot_be_stored_is_a_400_from_the_api(api, text):
    for field in ("prompt", "negative_prompt"):
        payload = {"model": "offline", "prompt": "fine", field: text}
        body = json.dumps(payload)  # escapes the surrogate as \\ud800, as a JSON client would
        response = api.post("/api/v1/jobs", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"]["fields"][field]
    assert not Job.objects.exists()


def test_a_retry_link_for_another_users_job_tells_nothing(client_for, other_user, user):
    job = make_job(owner=user, status=Job.Status.FAILED)
    html = client_for(other_user).get(reverse("studio:home"), {"job": job.pk}, follow=True).content.decode()
    assert "That job no longer exists" in html and job.prompt not in html


def test_reuse_of_an_image_restores_its_settings(alice, user):
    image = make_image(make_job(owner=user, status=Job.Status.SUCCEEDED, prompt="a red kite"))
    assert "a red kite</textarea>" in alice.get(reverse("studio:home"), {"reuse": image.pk}).content.decode()


@pytest.mark.parametrize("size", ["0x0", "5x0", "0x1024"])
def test_a_size_with_a_zero_side_is_refused(alice, api, size):
    data = {"model": "offline", "prompt": "p", "size": size, "quality": "draft", "n": "1"}
    assert alice.post(reverse("studio:job_submit"), data, **HTMX).status_code == 422
    response = api.post("/api/v1/jobs", json.dumps({"model": "offline", "prompt": "p", "size": size}),
                        content_type="application/json")  # fmt: skip
    assert response.status_code == 400 and "not a size" in response.json()["error"]["fields"]["size"][0]
    assert alice.get(reverse("studio:model_fields"), {"model": "offline", "size": size}).status_code == 200


@pytest.mark.parametrize("extend", [{"left": -8}, {"left": -512, "top": -512}, {"left": True}, {"right": "40"}])
def test_an_outpaint_extension_out_of_range_or_of_the_wrong_type_is_a_400(api, extend):
    payload = {"model": "offline", "operation": "outpaint", "prompt": "p", "image": b64(png_bytes(512, 512)),
               "extend": extend}  # fmt: skip
    response = api.post("/api/v1/jobs", json.dumps(payload), content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["fields"]["extend"]
    assert not Job.objects.exists()


def test_stability_outpaints_at_most_2000_pixels_a_side(api, settings):
    settings.PROVIDER_SETTINGS["stability"]["api_key"] = "k"
    payload = {"model": "stable-image-core", "operation": "outpaint", "prompt": "p",
               "image": b64(png_bytes(1024, 1024)), "extend": {"left": 2100}}  # fmt: skip
    response = api.post("/api/v1/jobs", json.dumps(payload), content_type="application/json")
    assert response.status_code == 400 and "0 to 2000 pixels" in response.json()["error"]["fields"]["extend"][0]


@pytest.mark.parametrize("params", [{"version": 2, "width": 1024}, {"version": 2, "width": "x", "height": 1, "n": 1,
                                    "seed": 1, "quality": "draft"}, [], "nonsense"])  # fmt: skip
def test_a_damaged_job_row_fails_cleanly_and_its_retry_explains(alice, user, params):
    from studio import tasks

    job = make_job(owner=user, params=params)
    assert tasks.run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "cannot be read" in job.error_message or "unknown format" in job.error_message
    response = alice.post(reverse("studio:job_retry", args=[job.pk]), **HTMX)
    assert response.status_code == 200 and "cannot run again as it was" in response.content.decode()


def test_the_editor_fields_for_an_unknown_operation_fall_back_to_inpaint(alice):
    response = alice.get(reverse("studio:editor_fields"), {"operation": "bogus"}, **HTMX)
    assert response.status_code == 200


def test_a_gallery_image_whose_file_is_gone_cannot_be_edited(alice, api):
    from django.core.files.storage import default_storage

    image = make_image()
    default_storage.delete(image.file)
    data = {"model": "offline", "operation": "variation", "quality": "draft", "n": "1", "source": image.pk}
    response = alice.post(reverse("studio:editor_submit"), data, **HTMX)
    assert response.status_code == 422 and "file is missing" in response.content.decode()
    payload = {"model": "offline", "operation": "variation", "source_image": image.pk}
    response = api.post("/api/v1/jobs", json.dumps(payload), content_type="application/json")
    assert response.status_code == 400 and "file is missing" in response.json()["error"]["fields"]["source_image"][0]


def test_flux_fill_outpaints_a_large_source_by_fitting_the_canvas(settings):
    from studio import editing

    settings.PROVIDER_SETTINGS["replicate"]["api_key"] = "k"
    extend = editing.EditSettings(extend=editing.Extension(right=500))
    prepared = editing.prepare(
        model="flux-fill-pro", operation="outpaint", source=png_bytes(2000, 1500), prompt="more sea", settings=extend
    )
    size = prepared.request.size
    assert max(prepared.canvas.size) <= 2048 and prepared.canvas.size == (size.width, size.height)


@pytest.mark.parametrize("factor", [-1, 0, 3, 10**30])
def test_an_upscale_factor_the_model_does_not_take_is_a_400(api, factor):
    payload = {"model": "offline", "operation": "upscale", "image": b64(png_bytes()), "factor": factor}
    response = api.post("/api/v1/jobs", json.dumps(payload), content_type="application/json")
    assert response.status_code == 400 and "upscales by 2× or 4×" in response.json()["error"]["fields"]["size"][0]
