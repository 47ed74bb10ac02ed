"""Edits are planned from the images' headers: a request that is too big, or wrong in a field that
costs nothing to check, is refused before any pixel is decoded or a canvas allocated, with memory
to match (the resident high-water mark, which sees Pillow's pixel buffers)."""

import base64
import io
import json
import math
import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import ApiToken, hash_token
from studio.models import Job
from tests import fuzz

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
# What a refusal may cost: the request's own bytes and Django's, never an image's pixels (an
# RGB image at the pixel limit is 100 MB decoded).
REFUSAL_MB = 10


def big_png(width: int = 0, height: int = 0) -> bytes:
    """A small file (one colour compresses well) that decodes to width × height pixels; by default
    as large as the pixel limit lets an upload be."""
    side = math.isqrt(settings.IMAGE_MAX_PIXELS)
    out = io.BytesIO()
    Image.new("RGB", (width or side, height or side), (128, 128, 128)).save(out, "PNG", optimize=True)
    return out.getvalue()


def upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("big.png", data, content_type="image/png")


def submit(client, **fields):
    data = {"model": "offline", "quality": "draft", "n": "1", "prompt": "more sky", **fields}
    return client.post(reverse("studio:editor_submit"), data, **HTMX)


@pytest.fixture(autouse=True)
def warmed(alice):
    """One small refused edit first: the first request of a process loads templates and code,
    which would count towards the peak of whichever request came first."""
    submit(alice, operation="outpaint", image=upload(big_png(64, 64)))


@pytest.fixture
def api(user) -> Client:
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="script", digest=hash_token(raw), hint=raw[:8])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.post("/api/v1/jobs", "{}", content_type="application/json")  # warmed, as above
    return client


def measured(call):
    """The call's answer, its peak memory in MB and its time in seconds."""
    started = time.monotonic()
    with fuzz.peak_memory() as peak:
        answer = call()
    return answer, peak.mb, time.monotonic() - started


def test_a_huge_outpaint_is_refused_before_the_canvas_exists(alice):
    side = math.isqrt(settings.IMAGE_MAX_PIXELS)
    source = upload(big_png())
    response, peak_mb, seconds = measured(
        lambda: submit(alice, operation="outpaint", image=source, extend_left="4096", extend_top="4096",
                       extend_right="4096", extend_bottom="4096")
    )  # fmt: skip
    limit = f"{side + 8192}×{side + 8192}; the limit is {settings.IMAGE_MAX_PIXELS / 1e6:.0f} megapixels"
    assert response.status_code == 422 and limit in response.content.decode()
    # The source alone would be 100 MB decoded, its extended canvas 700 MB.
    assert peak_mb < REFUSAL_MB and seconds < 5 and not Job.objects.exists()


def test_an_outpaint_aspect_ratio_past_1_to_4_is_refused(alice):
    source = upload(big_png(2000, 2000))
    response, peak_mb, _ = measured(lambda: submit(alice, operation="outpaint", image=source, extend_aspect="1:99"))
    assert response.status_code == 422 and "is not an aspect ratio such as 16:9" in response.content.decode()
    assert peak_mb < REFUSAL_MB


def test_reference_images_share_one_pixel_budget_checked_from_their_headers(alice, settings):
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"
    source = upload(big_png(64, 64))
    references = [SimpleUploadedFile(f"r{i}.png", big_png(), content_type="image/png") for i in range(5)]
    response, peak_mb, seconds = measured(
        lambda: submit(alice, operation="instruct", model="gpt-image-1.5", quality="low", image=source,
                       references=references)
    )  # fmt: skip
    together = 5 * math.isqrt(settings.IMAGE_MAX_PIXELS) ** 2 / 1e6
    limit = f"{together:.0f} megapixels together; the limit is {settings.IMAGE_MAX_PIXELS / 1e6:.0f}"
    assert response.status_code == 422 and limit in response.content.decode()
    assert peak_mb < REFUSAL_MB and seconds < 5


def test_an_upscale_past_the_models_limit_is_refused_before_decoding(alice):
    source = upload(big_png(3000, 3000))
    response, peak_mb, _ = measured(lambda: submit(alice, operation="upscale", image=source, prompt="", factor="4"))
    assert response.status_code == 422 and "at most 4,194,304 pixels" in response.content.decode()
    assert peak_mb < REFUSAL_MB


# --- fields that cost nothing to check are checked before the image is decoded --------------------

CHEAP_MISTAKES = [
    ({"model": "nope"}, "model", "nope"),
    ({"quality": "bogus"}, "quality", "bogus"),
    ({"n": "²"}, "n", "whole number"),
]


@pytest.mark.parametrize(("mistake", "field", "said"), CHEAP_MISTAKES, ids=lambda v: str(v))
def test_the_editor_refuses_a_bad_cheap_field_before_decoding_the_image(alice, mistake, field, said):
    source = upload(big_png())  # 100 MB of pixels decoded
    response, peak_mb, seconds = measured(lambda: submit(alice, operation="variation", image=source, **mistake))
    assert response.status_code == 422 and said in response.content.decode()
    assert peak_mb < REFUSAL_MB and seconds < 1 and not Job.objects.exists()


@pytest.mark.parametrize(("mistake", "field", "said"), CHEAP_MISTAKES, ids=lambda v: str(v))
def test_the_api_refuses_a_bad_cheap_field_before_decoding_the_image(api, mistake, field, said):
    payload = {"model": "offline", "quality": "draft", "n": 1, "prompt": "more sky", "operation": "variation"}
    payload |= {key: int(value) if value.isdecimal() else value for key, value in mistake.items()}
    body = json.dumps(payload | {"image": base64.b64encode(big_png()).decode()})
    response, peak_mb, seconds = measured(lambda: api.post("/api/v1/jobs", body, content_type="application/json"))
    assert response.status_code in (400, 404), response.content[:300]
    assert said in response.content.decode() and field in response.content.decode()
    assert peak_mb < REFUSAL_MB and seconds < 1 and not Job.objects.exists()
