"""Edits are planned from the images' headers: a request that is too big is refused before any
pixel is decoded or a canvas allocated, with memory to match."""

import io
import time
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from studio.models import Job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def big_png(width=6000, height=6000) -> bytes:
    """A small file (one colour compresses well) that decodes to width × height pixels."""
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "PNG", optimize=True)
    return out.getvalue()


def submit(client, **fields):
    data = {"model": "offline", "quality": "draft", "n": "1", "prompt": "more sky", **fields}
    return client.post(reverse("studio:editor_submit"), data, **HTMX)


@pytest.fixture(autouse=True)
def warmed(alice):
    """One small refused edit first: the first request of a process loads templates and code,
    which would count towards the peak of whichever request came first."""
    submit(alice, operation="outpaint", image=SimpleUploadedFile("s.png", big_png(64, 64), content_type="image/png"))


def measured(call):
    """The call's answer, its peak traced memory in MB and its time in seconds."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        answer = call()
        return answer, tracemalloc.get_traced_memory()[1] / 1e6, time.monotonic() - started
    finally:
        tracemalloc.stop()


def test_a_huge_outpaint_is_refused_before_the_canvas_exists(alice):
    upload = SimpleUploadedFile("big.png", big_png(), content_type="image/png")
    response, peak_mb, seconds = measured(
        lambda: submit(alice, operation="outpaint", image=upload, extend_left="4096", extend_top="4096",
                       extend_right="4096", extend_bottom="4096")
    )  # fmt: skip
    assert response.status_code == 422 and "14192×14192; the limit is 40 megapixels" in response.content.decode()
    # The 6000×6000 source alone would be 36 MB decoded, its extended canvas 600 MB.
    assert peak_mb < 5 and seconds < 5 and not Job.objects.exists()


def test_an_outpaint_aspect_ratio_past_1_to_4_is_refused(alice):
    upload = SimpleUploadedFile("square.png", big_png(2000, 2000), content_type="image/png")
    response, peak_mb, _ = measured(lambda: submit(alice, operation="outpaint", image=upload, extend_aspect="1:99"))
    assert response.status_code == 422 and "is not an aspect ratio such as 16:9" in response.content.decode()
    assert peak_mb < 5


def test_reference_images_share_one_pixel_budget_checked_from_their_headers(alice, settings):
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"
    source = SimpleUploadedFile("s.png", big_png(64, 64), content_type="image/png")
    references = [SimpleUploadedFile(f"r{i}.png", big_png(), content_type="image/png") for i in range(5)]
    response, peak_mb, seconds = measured(
        lambda: submit(alice, operation="instruct", model="gpt-image-1.5", quality="low", image=source,
                       references=references)
    )  # fmt: skip
    assert response.status_code == 422 and "180 megapixels together; the limit is 40" in response.content.decode()
    assert peak_mb < 5 and seconds < 5


def test_an_upscale_past_the_models_limit_is_refused_before_decoding(alice):
    upload = SimpleUploadedFile("big.png", big_png(3000, 3000), content_type="image/png")
    response, peak_mb, _ = measured(lambda: submit(alice, operation="upscale", image=upload, prompt="", factor="4"))
    assert response.status_code == 422 and "at most 4,194,304 pixels" in response.content.decode()
    assert peak_mb < 5
