"""An image saved by Atelier carries its settings; importing it refills the prompt form."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from studio.metadata import writer
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def upload(client, data, name="image.png"):
    return client.post(reverse("studio:settings_import"), {"image": SimpleUploadedFile(name, data)}, **HTMX)


def test_import_restores_prompt_model_size_and_seed(alice):
    metadata = {
        "model": "offline",
        "prompt": "a glass whale",
        "negative_prompt": "text",
        "width": 832,
        "height": 1216,
        "quality": "high",
        "seed": 4242,
        "options": {},
    }
    response = upload(alice, writer.with_png_chunks(png_bytes(), metadata))
    html = response.content.decode()
    assert response.status_code == 200 and response["HX-Retarget"] == "#job-form"
    assert "a glass whale</textarea>" in html and "text</textarea>" in html
    assert '<option value="832x1216" selected>' in html and 'value="4242"' in html
    assert "Settings restored" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4 not an image", "not an image Atelier can read"),
        (png_bytes(), "carries no settings Atelier can read"),
    ],
)
def test_import_explains_what_is_wrong(alice, data, message):
    response = upload(alice, data)
    assert response.status_code == 400 and message in response.content.decode()


def test_import_too_large(alice, settings):
    settings.UPLOAD_MAX_BYTES = 50
    response = upload(alice, png_bytes())
    assert response.status_code == 400 and "the limit is" in response.content.decode()


def test_import_without_a_file(alice):
    response = alice.post(reverse("studio:settings_import"), {}, **HTMX)
    assert response.status_code == 400 and "Choose an image" in response.content.decode()
