"""Every file Atelier writes carries its settings where other tools look for them: A1111's
`parameters` text (in A1111's spelling) in PNG chunks, and in EXIF UserComment for JPEG and WebP,
as A1111 writes it; dropped back into the studio, each restores its settings."""

import io

import piexif
import piexif.helper
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from studio import imaging, jobs
from studio.metadata import a1111, writer
from studio.models import Job
from studio.providers.base import GeneratedImage, ProviderResult
from tests.factories import make_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
SDXL_OPTIONS = {"cfg_scale": 6.5, "steps": 40, "sampler": "K_DPMPP_2M", "style_preset": "anime"}


@pytest.fixture
def stability_key(settings):
    """SDXL enabled in the form (no call is made: nothing is generated here)."""
    stability = {**settings.PROVIDER_SETTINGS["stability"], "api_key": "k"}
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "stability": stability}


def encoded(fmt: str, size=(96, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, fmt)
    return out.getvalue()


def sdxl_job(owner, **overrides):
    params = {"width": 1216, "height": 832, "aspect_ratio": "3:2", "quality": "standard", "n": 1, "seed": 4242,
              "options": SDXL_OPTIONS, "version": 2}  # fmt: skip
    fields = {"model_id": "sdxl-1.0", "prompt": "a glass whale, at dusk: calm", "negative_prompt": "text, blur"}
    return make_job(owner, status=Job.Status.RUNNING, params=params, **{**fields, **overrides})


def stored_file(job, fmt: str) -> bytes:
    """What the worker writes for a provider result in this format."""
    [image] = jobs.job_succeed(job, ProviderResult([GeneratedImage(encoded(fmt), seed=4242)]))
    with default_storage.open(image.file) as file:
        return file.read()


def test_parameters_name_every_a1111_setting_in_its_spelling_then_atelier_keys(user):
    text = a1111.infotext(jobs._metadata(sdxl_job(user), 4242, ""))
    prompt, negative, pairs = text.split("\n")
    assert prompt == "a glass whale, at dusk: calm" and negative == "Negative prompt: text, blur"
    assert pairs == (
        "Steps: 40, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: 4242, Size: 1216x832, Model: sdxl-1.0, "
        'Quality: standard, Operation: generate, Options: "{\\"style_preset\\": \\"anime\\"}", Version: Atelier'
    )


def test_image_to_image_carries_a1111s_denoising_strength(user):
    job = make_job(user, operation="remix", params={**make_job(user).params, "edit": {"strength": 0.35}})
    assert "Denoising strength: 0.35" in a1111.infotext(jobs._metadata(job, 1, ""))


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_jpeg_and_webp_carry_the_text_in_exif_usercomment_as_a1111_writes_it(user, fmt):
    job = sdxl_job(user)
    stored = stored_file(job, fmt)
    with Image.open(io.BytesIO(stored)) as img:
        # A1111's own reader (modules/images.py read_info_from_image): piexif on info["exif"].
        comment = piexif.load(img.info["exif"])["Exif"][piexif.ExifIFD.UserComment]
    assert comment.startswith(b"UNICODE\x00")
    assert piexif.helper.UserComment.load(comment) == a1111.infotext(jobs._metadata(job, 4242, ""))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_the_settings_go_in_without_touching_the_pixels(fmt):
    original = encoded(fmt)
    stored = imaging.process(original, {"prompt": "x", "width": 96, "height": 64}).data
    assert stored != original
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_every_format_atelier_writes_restores_its_settings_when_dropped_back(alice, user, fmt, stability_key):
    upload = SimpleUploadedFile(f"whale.{fmt.lower()}", stored_file(sdxl_job(user), fmt))
    response = alice.post(reverse("studio:settings_import"), {"image": upload, "model": "offline"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "Settings restored from the image." in html
    assert "a glass whale, at dusk: calm</textarea>" in html and "text, blur</textarea>" in html
    assert '<option value="sdxl-1.0" selected>' in html and '<option value="1216x832" selected>' in html
    assert 'value="4242"' in html and 'value="6.5"' in html and 'value="40"' in html
    assert '<option value="K_DPMPP_2M" selected>' in html and '<option value="anime" selected>' in html
    assert "Not restored" not in html


def test_a_prompt_too_long_for_one_jpeg_segment_is_cut_and_the_settings_kept():
    settings = {"model": "gpt-image-2", "prompt": "🐋" * 32000, "width": 96, "height": 64, "seed": None}
    stored = writer.embed(encoded("JPEG"), "jpeg", settings)
    with Image.open(io.BytesIO(stored)) as img:
        text = piexif.helper.UserComment.load(piexif.load(img.info["exif"])["Exif"][piexif.ExifIFD.UserComment])
    assert text.startswith("🐋" * 1000) and text.endswith("Size: 96x64, Model: gpt-image-2, Version: Atelier")


def test_a_gif_is_stored_as_it_came():
    gif = encoded("GIF")
    assert imaging.process(gif, {"prompt": "x"}).data == gif


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_an_edit_result_restores_its_prompt_and_names_what_the_form_cannot_do(alice, user, fmt):
    params = {**make_job(user).params, "edit": {"strength": 0.35}}
    job = make_job(user, operation="remix", status=Job.Status.RUNNING, params=params, prompt="make it night")
    upload = SimpleUploadedFile(f"remix.{fmt.lower()}", stored_file(job, fmt))
    html = alice.post(reverse("studio:settings_import"), {"image": upload}, **HTMX).content.decode()
    assert "make it night</textarea>" in html
    assert "<li>Operation: remix</li>" in html and "<li>Denoising strength: 0.35</li>" in html


def test_a_file_from_a_model_not_configured_here_says_so(alice, user):
    upload = SimpleUploadedFile("whale.png", stored_file(sdxl_job(user), "PNG"))
    html = alice.post(reverse("studio:settings_import"), {"image": upload}, **HTMX).content.decode()
    assert "Stable Diffusion XL 1.0 is not available here (set STABILITY_API_KEY)" in html


def test_a_file_from_an_editor_only_model_goes_onto_the_chosen_one(alice, user):
    job = make_job(user, model_id="flux-fill-pro", operation="edit", status=Job.Status.RUNNING)
    upload = SimpleUploadedFile("fill.png", stored_file(job, "PNG"))
    response = alice.post(reverse("studio:settings_import"), {"image": upload, "model": "offline"}, **HTMX)
    html = response.content.decode()
    assert (
        "Model “flux-fill-pro”: makes no images from a prompt alone; the settings are put onto Offline sketch." in html
    )


def test_a_jpeg_piexif_cannot_split_is_kept_without_its_settings_not_lost(user, caplog):
    """Fill bytes between segments are valid JPEG (Pillow decodes them) but piexif refuses them:
    the paid result is stored as it came, and the job still succeeds."""
    jpeg = encoded("JPEG")
    padded = jpeg[:2] + b"\xff\xff\xff" + jpeg[2:]
    job = sdxl_job(user)
    [image] = jobs.job_succeed(job, ProviderResult([GeneratedImage(padded, seed=1)]))
    with default_storage.open(image.file) as file:
        assert file.read() == padded
    assert "without its settings" in caplog.text
