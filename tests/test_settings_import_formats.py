"""Files from AUTOMATIC1111, ComfyUI and InvokeAI restore what the chosen model takes; the rest is
named, in the studio and in the API answer. Each file is built the way its tool writes it."""

import base64
import io
import json

import piexif
import piexif.helper
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import ApiToken, hash_token
from tests import metadata_examples as examples
from tests.metadata_examples import png_with

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def stability_key(settings):
    """SDXL enabled in the form (nothing is generated here)."""
    stability = {**settings.PROVIDER_SETTINGS["stability"], "api_key": "k"}
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "stability": stability}


def a1111_jpeg(text: str) -> bytes:
    """A JPEG as A1111's save_image writes one: saved, then piexif.insert of a UNICODE UserComment."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 60, 30)).save(out, "JPEG")
    exif = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(text, encoding="unicode")}})
    result = io.BytesIO()
    piexif.insert(exif, out.getvalue(), result)
    return result.getvalue()


def studio_import(client, data: bytes, model: str = "sdxl-1.0"):
    upload = SimpleUploadedFile("image.png", data)
    return client.post(reverse("studio:settings_import"), {"image": upload, "model": model}, **HTMX)


COMFYUI_PROMPT = png_with({"prompt": json.dumps(json.loads(examples.COMFYUI_DEFAULT_PROMPT))})
COMFYUI_WORKFLOW = png_with({"workflow": json.dumps(examples.COMFYUI_DEFAULT_WORKFLOW)})


def test_comfyui_prompt_restores_the_ksampler_and_its_inputs_onto_the_chosen_model(alice):
    html = studio_import(alice, COMFYUI_PROMPT).content.decode()
    assert "Read ComfyUI settings onto Stable Diffusion XL 1.0." in html
    assert "masterpiece best quality girl</textarea>" in html and "bad hands</textarea>" in html
    assert 'value="8566257"' in html and 'name="opt_steps" value="20"' in html and 'value="8.0"' in html
    assert '<option value="K_EULER" selected>' in html
    assert "Size 512×512 → 1024×1024, the nearest Stable Diffusion XL 1.0 offers." in html
    assert "Model “v1-5-pruned-emaonly.safetensors”: not one of Atelier&#x27;s" in html
    assert "<li>Scheduler: normal</li>" in html


def test_comfyui_workflow_alone_is_read_through_its_links(alice):
    html = studio_import(alice, COMFYUI_WORKFLOW).content.decode()
    assert "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,</textarea>" in html
    assert "text, watermark</textarea>" in html and '<option value="K_EULER" selected>' in html
    # The editor's random seed is beyond what SDXL takes: said, not silently dropped.
    assert "Seed 156680208700286: Stable Diffusion XL 1.0 takes seeds from 0 to 4,294,967,295." in html


def test_invokeai_metadata_restores_prompt_seed_steps_cfg_and_scheduler(alice):
    html = studio_import(alice, png_with({"invokeai_metadata": json.dumps(examples.INVOKEAI_METADATA)})).content
    html = html.decode()
    assert "Read InvokeAI settings onto Stable Diffusion XL 1.0." in html
    assert "a lighthouse on a cliff, storm, oil painting</textarea>" in html and "blurry, text</textarea>" in html
    assert '<option value="1024x1024" selected>' in html and 'value="1234567890"' in html
    assert 'name="opt_steps" value="30"' in html and '<option value="K_DPMPP_2M" selected>' in html
    assert "<li>Schedule type: Karras</li>" in html and "Generation mode" not in html


def test_invokeai_2_sd_metadata_splits_the_bracketed_negative_prompt(alice):
    html = studio_import(alice, png_with({"sd-metadata": json.dumps(examples.INVOKEAI_SD_METADATA)})).content
    html = html.decode()
    assert "a lonely robot reading a book</textarea>" in html and "blurry, text</textarea>" in html
    assert '<option value="K_EULER_ANCESTRAL" selected>' in html and 'value="7.5"' in html
    assert '<option value="832x1216" selected>' in html  # 512×768 is 2:3


@pytest.mark.parametrize(
    "data", [png_with({"parameters": examples.A1111_PARAMETERS}), a1111_jpeg(examples.A1111_PARAMETERS)]
)
def test_a1111_png_and_jpeg_restore_onto_the_chosen_model(alice, data):
    html = studio_import(alice, data).content.decode()
    assert "Read AUTOMATIC1111 settings onto Stable Diffusion XL 1.0." in html
    assert "a red fox in the snow, detailed fur</textarea>" in html and "lowres, watermark</textarea>" in html
    assert '<option value="832x1216" selected>' in html and 'value="3141592653"' in html
    assert '<option value="K_DPMPP_2M" selected>' in html and 'name="opt_steps" value="25"' in html
    assert "<li>Schedule type: Karras</li>" in html


def test_settings_a_model_does_not_take_are_listed_as_not_restored(alice):
    html = studio_import(alice, COMFYUI_PROMPT, model="gpt-image-1.5").content.decode()
    assert "Not restored:" in html
    assert "Negative prompt “bad hands”: GPT Image 1.5 takes none." in html
    assert "Seed 8566257: GPT Image 1.5 takes no seed." in html
    assert "Steps 20: GPT Image 1.5 has no such setting." in html


@pytest.fixture
def api(user):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="t", digest=hash_token(raw), hint=raw[:8])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_the_api_answers_with_a_jobs_body_and_what_was_not_restored(api):
    upload = SimpleUploadedFile("c.png", COMFYUI_PROMPT)
    response = api.post("/api/v1/settings/import", {"image": upload, "model": "sdxl-1.0"})
    body = response.json()
    assert response.status_code == 200 and body["source"] == "ComfyUI"
    assert body["settings"] == {
        "model": "sdxl-1.0",
        "prompt": "masterpiece best quality girl",
        "negative_prompt": "bad hands",
        "size": "1024x1024",
        "seed": 8566257,
        "options": {"steps": 20, "cfg_scale": 8.0, "sampler": "K_EULER"},
    }
    assert body["adjusted"] == ["Size 512×512 → 1024×1024, the nearest Stable Diffusion XL 1.0 offers."]
    assert "Scheduler: normal" in body["not_restored"]


def test_the_api_takes_base64_json_too(api):
    payload = {"image": base64.b64encode(a1111_jpeg(examples.A1111_PARAMETERS)).decode(), "model": "offline"}
    response = api.post("/api/v1/settings/import", json.dumps(payload), content_type="application/json")
    assert response.status_code == 200 and response.json()["settings"]["model"] == "offline"
    assert "Steps 25: Offline sketch has no such setting." in response.json()["not_restored"]


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"data": {}}, 400, "multipart file"),
        ({"data": "{}", "content_type": "application/json"}, 400, "base64"),
        ({"data": '{"image": "!!"}', "content_type": "application/json"}, 400, "base64"),
        ({"data": "[", "content_type": "application/json"}, 400, "JSON"),
        ({"data": {"image": SimpleUploadedFile("x.png", b"%PDF")}}, 400, "not an image"),
        ({"data": {"image": SimpleUploadedFile("x.png", png_with({}))}}, 400, "no settings"),
    ],
)
def test_the_api_refuses_what_it_cannot_read_with_a_4xx(api, kwargs, status, message):
    response = api.post("/api/v1/settings/import", **kwargs)
    assert response.status_code == status and message in json.dumps(response.json())


@pytest.mark.parametrize(
    "chunks",
    [
        {"prompt": "[1, 2"},
        {"prompt": json.dumps({"3": {"class_type": "KSampler", "inputs": {"positive": ["3", 0], "seed": True}}})},
        {"prompt": json.dumps({"1": {"class_type": "KSampler", "inputs": {"positive": [["x"], 0], "steps": 1e309}}})},
        {"workflow": json.dumps({"nodes": [{"type": "KSampler", "widgets_values": "x"}], "links": [[1]]})},
        {"invokeai_metadata": json.dumps({"seed": "7", "model": ["x"], "loras": 5})},
        {"sd-metadata": json.dumps({"image": {"prompt": [1, {"prompt": None}], "sampler": 3}})},
        {"parameters": "Steps: 9" + "9" * 5000 + ", Seed: nan, CFG scale: inf, Size: 9x"},
        {"parameters": "a" * 150_000},
        {"prompt": "[" * 100_000 + "]" * 100_000},
        {"prompt": json.dumps({"3": {"class_type": {"a": 1}}, "4": {"class_type": ["KSampler"]}})},
        {"workflow": json.dumps({"nodes": [{"type": "KSampler", "inputs": 5}], "links": 7})},
        {"workflow": json.dumps({"nodes": [{"type": "KSampler", "inputs": [{"name": "model", "link": [1]}]}]})},
        {"invokeai_metadata": json.dumps({"seed": 1, "width": -5, "height": 5})},
        {"parameters": "p\nSteps: 1, Seed: 2, Size: 0x0, Options: [1], Sampler: Euler a Karras"},
    ],
)
def test_hostile_chunks_restore_what_they_can_and_never_fail(alice, chunks):
    response = studio_import(alice, png_with(chunks))
    assert response.status_code in (200, 400)
