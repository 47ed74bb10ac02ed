"""The AUTOMATIC1111 API subset, driven by the `webuiapi` client from PyPI against a live server."""

import json

import pytest
import requests
import webuiapi
from django.test import Client
from django_q.conf import Conf
from PIL import Image as PILImage

from accounts.models import ApiToken, hash_token
from compat.models import A1111Settings
from studio.models import Budget, Job
from tests.factories import make_job

pytestmark = pytest.mark.django_db(transaction=True)


def make_token(user, scope=ApiToken.Scope.READ_WRITE) -> str:
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="webui", digest=hash_token(raw), hint=raw[:8], scope=scope)
    return raw


@pytest.fixture
def jobs_run_inline(monkeypatch):
    """Jobs run in the web request's own thread as soon as they are committed (django-q2 sync)."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def webui(live_server, user, jobs_run_inline):
    """The client as an A1111 user sets it up for --api-auth: the token is the password."""
    return webuiapi.WebUIApi(baseurl=f"{live_server.url}/sdapi/v1", username=user.username, password=make_token(user))


def test_txt2img_maps_to_the_nearest_settings_and_says_so(webui, user):
    result = webui.txt2img(prompt="a lighthouse at dusk", negative_prompt="fog", width=512, height=768, seed=42,
                           steps=25, cfg_scale=6.5, batch_size=2)  # fmt: skip
    assert [image.size for image in result.images] == [(832, 1216)] * 2  # the offline renderer's 2:3
    assert result.info["all_seeds"] == [42, 43] and result.info["sd_model_name"] == "offline"
    notes = " ".join(result.info["approximations"])
    assert "size 512x768 → 832x1216" in notes and "steps 25" in notes and "cfg_scale 6.5" in notes
    assert result.info["infotexts"][0].startswith("a lighthouse at dusk\nNegative prompt: fog\nSeed: 42")
    job = Job.objects.get()
    assert (job.owner, job.status, job.params["n"], job.negative_prompt) == (user, "succeeded", 2, "fog")


def test_img2img_with_a_mask_inpaints_the_white_area(webui):
    source = PILImage.new("RGB", (320, 256), (40, 90, 160))
    mask = PILImage.new("L", (320, 256), 0)
    mask.paste(255, (0, 0, 160, 256))
    result = webui.img2img(images=[source], mask_image=mask, prompt="a red door", denoising_strength=0.6, seed=3)
    assert result.images[0].size == (320, 256)
    job = Job.objects.get()
    assert (job.operation, job.status, job.prompt) == ("edit", "succeeded", "a red door")
    notes = result.info["approximations"]
    assert "denoising_strength: not used for edit on Offline sketch." in notes
    assert "size 512x512 → 320x256: the source's shape, fitted to Offline sketch." in notes


def test_img2img_without_a_mask_is_a_remix_at_the_denoising_strength(webui):
    result = webui.img2img(images=[PILImage.new("RGB", (256, 256), "white")], prompt="a tree", denoising_strength=0.3)
    job = Job.objects.get()
    assert (job.operation, job.params["edit"]["strength"]) == ("remix", 0.3)
    assert result.info["denoising_strength"] == 0.3


def test_the_current_model_is_kept_per_user(webui, user, other_user):
    assert "offline-watercolor" in webui.util_get_model_names()
    webui.util_set_model("offline-watercolor")
    assert webui.util_get_current_model() == "offline-watercolor"
    assert A1111Settings.objects.get(user=user).sd_model_checkpoint == "offline-watercolor"
    assert webui.txt2img(prompt="a kite", width=1024, height=1024).info["sd_model_name"] == "offline-watercolor"
    assert not A1111Settings.objects.filter(user=other_user).exists()


def test_a_bearer_header_works_too_and_errors_are_a1111s(live_server, user, jobs_run_inline):
    base = f"{live_server.url}/sdapi/v1"
    headers = {"Authorization": f"Bearer {make_token(user)}"}
    answer = requests.post(f"{base}/txt2img", json={"prompt": "a kite", "width": 1024, "height": 1024},
                           headers=headers, timeout=30)  # fmt: skip
    assert answer.status_code == 200 and json.loads(answer.json()["info"])["width"] == 1024
    unknown = requests.post(f"{base}/txt2img", json={"prompt": "a kite", "override_settings":
                            {"sd_model_checkpoint": "sd15.ckpt"}}, headers=headers, timeout=30)  # fmt: skip
    assert unknown.status_code == 404 and "sd15.ckpt" in unknown.json()["detail"]
    empty = requests.post(f"{base}/txt2img", json={"prompt": ""}, headers=headers, timeout=30)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "prompt"]


def test_a_wrong_password_or_a_read_only_token_is_refused(live_server, user):
    base = f"{live_server.url}/sdapi/v1"
    wrong = requests.get(f"{base}/sd-models", auth=("alice", "atl_wrong"), timeout=30)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    read_only = webuiapi.WebUIApi(baseurl=base, username="alice", password=make_token(user, ApiToken.Scope.READ))
    assert read_only.util_get_model_names()
    with pytest.raises(RuntimeError) as exc:
        read_only.txt2img(prompt="a kite")
    assert exc.value.args[0] == 403 and "read-only" in exc.value.args[1]
    assert not Job.objects.exists()


@pytest.mark.django_db  # the test client alone: no live server, no transaction to flush
def test_the_budget_applies(user, settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "openai": {"api_key": "sk-never-called", "base_url": ""},
    }
    Budget.objects.create(user=user, monthly_usd="0.01")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(user)}")
    payload = {"prompt": "a kite", "override_settings": {"sd_model_checkpoint": "gpt-image-1.5"}}
    answer = api.post("/sdapi/v1/txt2img", payload, content_type="application/json")
    assert answer.status_code == 429 and "budget" in answer.json()["detail"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_sampler_steps_and_cfg_reach_a_model_that_has_them(user, settings):
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "stability": {"api_key": "sk-x", "base_url": ""}}
    settings.COMPAT_WAIT_SECONDS = 0  # no worker: the job is only queued, and its settings read back
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(user)}")
    payload = {"prompt": "a kite", "sampler_name": "Euler a", "steps": 80, "cfg_scale": 9, "width": 1152,
               "height": 896, "override_settings": {"sd_model_checkpoint": "sdxl-1.0"}}  # fmt: skip
    answer = api.post("/sdapi/v1/txt2img", payload, content_type="application/json")
    job = Job.objects.get()
    assert answer.status_code == 504 and answer.json()["atelier_job"] == job.pk
    assert job.params["options"] == {"sampler": "K_EULER_ANCESTRAL", "steps": 50, "cfg_scale": 9,
                                     "style_preset": "none"}  # fmt: skip
    assert (job.params["width"], job.params["height"]) == (1152, 896)


@pytest.mark.django_db
def test_the_per_user_cap_applies(user, settings):
    settings.JOB_USER_MAX_ACTIVE = 1
    make_job(owner=user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(user)}")
    answer = api.post("/sdapi/v1/txt2img", {"prompt": "a kite"}, content_type="application/json")
    assert answer.status_code == 429 and "queued or running" in answer.json()["detail"]
    assert Job.objects.count() == 1
