"""The OpenAI-compatible Images API, driven by the official `openai` SDK against a live server."""

import base64
import io

import numpy as np
import openai
import pytest
import requests
from django.core.files.storage import default_storage
from django_q.conf import Conf
from PIL import Image as PILImage

from accounts.models import ApiToken, hash_token
from gallery.models import Image
from studio.models import Budget, Job
from tests.emulators.base import Fault
from tests.factories import make_job, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def make_token(user, scope=ApiToken.Scope.READ_WRITE) -> str:
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="sdk", digest=hash_token(raw), hint=raw[:8], scope=scope)
    return raw


@pytest.fixture
def jobs_run_inline(monkeypatch):
    """Jobs run in the web request's own thread as soon as they are committed (django-q2 sync)."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def sdk(live_server, user, jobs_run_inline):
    return openai.OpenAI(base_url=f"{live_server.url}/openai/v1", api_key=make_token(user))


def decoded(b64: str) -> PILImage.Image:
    return PILImage.open(io.BytesIO(base64.b64decode(b64)))


@pytest.fixture
def openai_key(settings):
    """OpenAI models configured, at an address nothing listens on: for tests that never reach it."""
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "openai": {"api_key": "sk-x", "base_url": "http://127.0.0.1:9"},
    }


def test_models_lists_the_catalog_ids_that_can_take_jobs(sdk, openai_key):
    ids = {model.id for model in sdk.models.list()}
    assert {"offline", "offline-mosaic", "gpt-image-2"} <= ids
    assert "sdxl-1.0" not in ids  # no Stability key here
    assert sdk.models.retrieve("offline").owned_by == "offline"


def test_generate_makes_an_ordinary_gallery_job(sdk, user):
    result = sdk.images.generate(model="offline", prompt="a lighthouse at dusk", size="1344x768", n=2,
                                 quality="draft", extra_body={"seed": 11})  # fmt: skip
    assert [decoded(item.b64_json).size for item in result.data] == [(1344, 768)] * 2
    assert result.size == "1344x768" and result.quality == "draft" and result.output_format == "png"
    assert result.usage is None  # the offline renderer reports no token usage
    job = Job.objects.get()
    assert (job.owner, job.status, job.operation, job.params["seed"]) == (user, "succeeded", "generate", 11)
    assert Image.objects.filter(job=job, owner=user).count() == 2


def test_url_response_format_links_the_file_for_the_same_token(sdk):
    result = sdk.images.generate(model="offline", prompt="a kite", size="1024x1024", response_format="url")
    url = result.data[0].url
    assert url.endswith(f"/gallery/{Image.objects.get().pk}/image/")
    with_token = requests.get(url, headers={"Authorization": f"Bearer {sdk.api_key}"}, timeout=30)
    assert with_token.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert requests.get(url, allow_redirects=False, timeout=30).status_code == 302  # to the log-in page


def test_edit_with_a_mask_inpaints_where_the_mask_is_transparent(sdk):
    mask = PILImage.new("RGBA", (256, 256), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 128, 256))  # the left half: edit here
    mask_png = io.BytesIO()
    mask.save(mask_png, "PNG")
    result = sdk.images.edit(model="offline", image=("photo.png", png_bytes(256, 256), "image/png"),
                             mask=("mask.png", mask_png.getvalue(), "image/png"), prompt="a red door")  # fmt: skip
    assert decoded(result.data[0].b64_json).size == (256, 256)
    job = Job.objects.get()
    assert (job.operation, job.prompt, job.status) == ("edit", "a red door", "succeeded")
    with default_storage.open(job.mask_file) as file, PILImage.open(file) as stored:
        assert stored.getpixel((10, 10)) == 255 and stored.getpixel((200, 10)) == 0  # Atelier's: white = change


def test_edit_without_a_mask_changes_the_whole_image_as_the_prompt_says(sdk):
    sdk.images.edit(model="offline", image=("photo.png", png_bytes(256, 256), "image/png"), prompt="make it night")
    assert Job.objects.get().operation == "instruct"


def test_edit_images_after_the_first_are_references(sdk, openai_emulator):
    images = [("room.png", png_bytes(1024, 1024), "image/png"), ("lamp.png", png_bytes(64, 64), "image/png")]
    result = sdk.images.edit(model="gpt-image-1.5", image=images, prompt="put the lamp in the room", quality="low")
    job = Job.objects.get()
    assert (job.operation, len(job.params["references"])) == ("instruct", 1)
    assert len(openai_emulator.requests[-1].file_lists["image[]"]) == 2
    assert result.usage.output_tokens == 272 + 100  # a low 1024² image, and GPT Image 1.5's reasoning text


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK's: OpenAI retired its own variations
def test_variation(sdk):
    result = sdk.images.create_variation(model="offline", image=("photo.png", png_bytes(320, 256), "image/png"), n=2)
    assert [decoded(item.b64_json).size for item in result.data] == [(320, 256)] * 2
    assert Job.objects.get().operation == "variation"


def test_a_bad_size_is_a_bad_request_with_ateliers_message(sdk):
    with pytest.raises(openai.BadRequestError) as exc:
        sdk.images.generate(model="offline", prompt="a lighthouse", size="512x512")
    assert "Offline sketch does not offer 512×512. Choose one of: 1024x1024" in exc.value.message
    assert exc.value.body["param"] == "size" and exc.value.body["type"] == "invalid_request_error"
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"model": "dall-e-9"}, openai.NotFoundError, "does not exist"),
        ({"model": "gpt-image-2"}, openai.BadRequestError, "set OPENAI_API_KEY"),
        ({"model": "offline", "extra_body": {"colour": "red"}}, openai.BadRequestError, "Unknown parameter: colour"),
        ({"model": "offline", "background": "transparent"}, openai.BadRequestError, "no option “background”"),
        ({"model": "offline", "response_format": "jpeg"}, openai.BadRequestError, "b64_json or url"),
    ],
)
def test_other_refusals_in_openais_shape(sdk, kwargs, error, text):
    with pytest.raises(error, match=text):
        sdk.images.generate(prompt="a lighthouse", **kwargs)
    assert not Job.objects.exists()


def test_keys_and_scopes_are_the_native_apis(live_server, user):
    base_url = f"{live_server.url}/openai/v1"
    with pytest.raises(openai.AuthenticationError, match="not valid"):
        openai.OpenAI(base_url=base_url, api_key="atl_wrong").models.list()
    read_only = openai.OpenAI(base_url=base_url, api_key=make_token(user, ApiToken.Scope.READ))
    assert any(model.id == "offline" for model in read_only.models.list())
    with pytest.raises(openai.PermissionDeniedError, match="read-only"):
        read_only.images.generate(model="offline", prompt="a lighthouse")
    assert not Job.objects.exists()


def test_the_budget_applies_and_is_not_retried(sdk, user, openai_key):
    Budget.objects.create(user=user, monthly_usd="0.01")
    with pytest.raises(openai.RateLimitError, match=r"would cost \$0\.133") as exc:
        sdk.images.generate(model="gpt-image-1.5", prompt="a lighthouse", quality="high")
    assert exc.value.code == "budget_exceeded" and exc.value.response.headers["x-should-retry"] == "false"
    assert not Job.objects.exists()


def test_usage_is_passed_on_when_the_provider_gives_it(sdk, openai_emulator):
    result = sdk.images.generate(model="gpt-image-1.5", prompt="a lighthouse", quality="low",
                                 output_format="webp", output_compression=70)  # fmt: skip
    # the prompt's 3 tokens and 6 of overhead in; a low 1024² image and 100 reasoning tokens out
    assert (result.usage.input_tokens, result.usage.total_tokens) == (9, 9 + 272 + 100)
    assert result.output_format == "webp"
    assert openai_emulator.requests[-1].json["output_compression"] == 70


def test_a_provider_refusal_comes_back_with_the_job_id(sdk, openai_emulator):
    openai_emulator.faults.append(
        Fault(
            status=400,
            body={"error": {"message": "Rejected by the safety system.", "code": "content_policy_violation"}},
        )
    )
    with pytest.raises(openai.BadRequestError, match="Rejected by the safety system") as exc:
        sdk.images.generate(model="gpt-image-1.5", prompt="a lighthouse", quality="low")
    job = Job.objects.get()
    assert job.status == "failed" and exc.value.body["job"] == job.pk


def test_a_job_that_outlasts_the_wait_is_named_and_goes_on(live_server, user, settings):
    settings.COMPAT_WAIT_SECONDS = 0.2  # and no worker: the job stays queued
    sdk = openai.OpenAI(base_url=f"{live_server.url}/openai/v1", api_key=make_token(user))
    with pytest.raises(openai.APIStatusError) as exc:
        sdk.images.generate(model="offline", prompt="a lighthouse")
    job = Job.objects.get()  # one job: the SDK did not retry
    assert exc.value.status_code == 504 and exc.value.body["job"] == job.pk and f"Job {job.pk}" in exc.value.message
    assert job.status == "queued"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/openai/v1/images/generations", "/sdapi/v1/txt2img"])
def test_a_session_cookie_alone_is_not_a_login(alice, path):
    """The compatible APIs take no CSRF token, so only an API token may call them."""
    answer = alice.post(path, {"model": "offline", "prompt": "a lighthouse"}, content_type="application/json")
    assert answer.status_code == 401 and not Job.objects.exists()


def test_the_per_user_cap_applies_and_is_not_retried(sdk, user, settings):
    settings.JOB_USER_MAX_ACTIVE = 1
    make_job(owner=user)  # queued: the one job this person may have
    with pytest.raises(openai.RateLimitError, match="1 jobs queued or running") as exc:
        sdk.images.generate(model="offline", prompt="a lighthouse")
    assert exc.value.code == "too_many_jobs" and exc.value.response.headers["x-should-retry"] == "false"
    assert Job.objects.count() == 1


def test_an_automatic_retry_is_refused_so_the_image_is_not_bought_twice(sdk, user):
    """A proxy's own gateway timeout carries no x-should-retry, so the SDK retries: Atelier knows
    the attempt by the SDK's retry count and refuses it rather than queue the job again."""
    retry = {"x-stainless-retry-count": "1"}  # what the SDK itself sends on its first retry
    with pytest.raises(openai.ConflictError, match="never repeats a paid call") as exc:
        sdk.images.generate(model="offline", prompt="a lighthouse", extra_headers=retry)
    assert exc.value.code == "retry_refused" and exc.value.response.headers["x-should-retry"] == "false"
    assert not Job.objects.exists()
    sdk.images.generate(model="offline", prompt="a lighthouse")  # the first attempt itself is fine
    assert Job.objects.count() == 1


def test_gpt_image_2_6_goes_to_openai_with_only_the_settings_the_sdk_documents_for_it(sdk, openai_emulator, user):
    result = sdk.images.generate(model="gpt-image-2.6-flare", prompt="a kite", size="1536x1024", quality="low",
                                 background="opaque", output_format="webp", output_compression=60)  # fmt: skip
    sent = openai_emulator.requests[-1].json
    assert sent["model"] == "gpt-image-2.6-flare" and (sent["size"], sent["quality"]) == ("1536x1024", "low")
    assert (sent["background"], sent["output_format"], sent["output_compression"]) == ("opaque", "webp", 60)
    assert decoded(result.data[0].b64_json).size == (1536, 1024)
    # What the SDK documents only for other models is refused here, not sent.
    for refused in ({"quality": "xhigh"}, {"size": "1536x864"}, {"background": "transparent"}):
        with pytest.raises(openai.BadRequestError):
            sdk.images.generate(model="gpt-image-2.6-flare", prompt="a kite", **refused)
    assert len(openai_emulator.requests) == 1


def marked_photo(width=640, height=480, box=(270, 190, 370, 290)) -> bytes:
    """A grey photo with a red square on it: a fitted copy shows whether it was stretched."""
    photo = PILImage.new("RGB", (width, height), (128, 128, 128))
    photo.paste((255, 0, 0), box)
    out = io.BytesIO()
    photo.save(out, "PNG")
    return out.getvalue()


def red_box(data: bytes) -> tuple[int, int]:
    """The width and height of the red square in a sent image."""
    pixels = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB")).astype(int)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    rows, cols = np.nonzero(red)
    return cols.max() - cols.min() + 1, rows.max() - rows.min() + 1


def test_an_edits_size_is_honoured_and_the_source_fitted_to_it_unstretched(sdk, openai_emulator):
    sdk.images.edit(model="gpt-image-1.5", image=("photo.png", marked_photo(), "image/png"), prompt="make it night",
                    size="1024x1536", quality="low")  # fmt: skip
    sent = openai_emulator.requests[-1]
    assert sent.fields["size"] == "1024x1536" and PILImage.open(io.BytesIO(sent.files["image"])).size == (1024, 1536)
    width, height = red_box(sent.files["image"])
    assert abs(width - height) <= 2  # still a square: cropped to the size's shape, not stretched
    job = Job.objects.get()
    assert (job.params["width"], job.params["height"]) == (1024, 1536)


def test_an_edit_size_the_model_does_not_offer_is_refused_by_name(sdk, openai_emulator):
    with pytest.raises(openai.BadRequestError) as exc:
        sdk.images.edit(model="gpt-image-1.5", image=("photo.png", marked_photo(), "image/png"),
                        prompt="make it night", size="1536x864")  # fmt: skip
    assert "GPT Image 1.5 does not offer 1536×864" in exc.value.message and exc.value.body["param"] == "size"
    assert not Job.objects.exists() and openai_emulator.requests == []


def test_an_edit_without_size_or_with_auto_keeps_the_sources_shape_fitted(sdk):
    for size in ("auto", openai.NOT_GIVEN):
        sdk.images.edit(model="offline", image=("photo.png", marked_photo(1000, 560), "image/png"),
                        prompt="make it night", size=size)  # fmt: skip
    assert {(j.params["width"], j.params["height"]) for j in Job.objects.all()} == {(1000, 560)}
