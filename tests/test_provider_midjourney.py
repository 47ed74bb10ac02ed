"""Midjourney through midjourney-proxy: prompt flags, progress, grid split, U/V follow-ups."""

import io
from dataclasses import replace

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage

from studio import downloads, jobs, specs, tasks
from studio.catalog import Operation
from studio.imaging import ImageRejected
from studio.models import Job
from studio.providers import midjourney as provider
from studio.providers.base import Canceled, ErrorKind, ProviderError
from studio.specs import Followup
from tests.emulators.base import Fault
from tests.factories import make_job, make_request, png_bytes

pytestmark = pytest.mark.django_db

IMAGINE = "POST /mj/submit/imagine"
FETCH = "GET /mj/task/"
QUEUE_FULL = {"code": 23, "description": "queue is full, please try again later", "result": None}
JOB_PARAMS = {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "1", "n": 1, "seed": 5,
              "options": {"stylize": 100}}  # fmt: skip


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(provider, "POLL_SECONDS", 0.05)


def request(**fields):
    fields = {"prompt": "a paper crane", "size": "1456x816", "quality": "2", "seed": 1234, **fields}
    return make_request("midjourney-v7", **fields)


def imagines(proxy):
    return [r for r in proxy.requests if r.path == "/mj/submit/imagine"]


def test_the_prompt_carries_the_pickers_as_flags():
    options = {"stylize": 250, "chaos": 20, "weird": 0, "style_raw": True, "tile": False}
    text = provider.prompt_with_parameters(request(options=options, negative_prompt="text, watermark"))
    assert (
        text
        == "a paper crane --ar 16:9 --v 7 --q 2 --stylize 250 --chaos 20 --style raw --seed 1234 --no text, watermark"
    )


def test_imagine_is_polled_with_progress_and_the_grid_is_split(midjourney_proxy):
    progress = []
    result = provider.generate(request(), progress=lambda tid, pct, preview=None: progress.append(pct) or True)
    submit = midjourney_proxy.requests[0]
    assert submit.path == "/mj/submit/imagine" and submit.headers["mj-api-secret"] == "mj-secret"
    assert submit.json["prompt"].endswith("--seed 1234")
    assert progress[-1] == 100 and any(p is not None and p < 100 for p in progress)
    grid, *quads = [PILImage.open(io.BytesIO(i.data)) for i in result.images]
    assert grid.size == (2912, 1632) and [q.size for q in quads] == [(1456, 816)] * 4
    assert np.array_equal(np.asarray(quads[3]), np.asarray(grid.convert("RGB"))[816:, 1456:])
    assert result.usage["grid"] and len(result.usage["buttons"]) == 8


@pytest.mark.parametrize("flavor", ["csharp", "java"])
def test_upscale_follow_up_uses_buttons_or_change(midjourney_proxy, flavor):
    midjourney_proxy.flavor = flavor
    first = provider.generate(request())
    followup = Followup(first.provider_job_id, "U3", tuple(first.usage["buttons"]))
    upscale = replace(request(), operation=Operation.UPSCALE, followup=followup)
    specs.validate(upscale)
    result = provider.generate(upscale)
    follow = next(r for r in midjourney_proxy.requests if r.path in ("/mj/submit/action", "/mj/submit/change"))
    if flavor == "csharp":
        assert follow.path == "/mj/submit/action" and follow.json["customId"].startswith("MJ::JOB::upsample::3::")
    else:
        assert follow.path == "/mj/submit/change" and follow.json == {
            "taskId": first.provider_job_id,
            "action": "UPSCALE",
            "index": 3,
        }
    assert len(result.images) == 1


@pytest.mark.parametrize("flavor", ["csharp", "java"])
def test_banned_words_are_refused_whatever_the_http_status(midjourney_proxy, flavor):
    midjourney_proxy.flavor = flavor
    with pytest.raises(ProviderError) as exc:
        provider.generate(request(prompt="something forbidden"))
    assert exc.value.kind == ErrorKind.CONTENT_POLICY and "forbidden" in exc.value.message


def test_a_wrong_secret_is_an_auth_failure(midjourney_proxy, settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "midjourney": {"api_key": "nope", "base_url": midjourney_proxy.url},
    }
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.AUTH and "MIDJOURNEY_PROXY_SECRET" in exc.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault(status=502, body=b"bad gateway"), ErrorKind.UNAVAILABLE),
        (Fault(status=429, body=b"", headers={"retry-after": "3"}), ErrorKind.RATE_LIMITED),
        (Fault(malformed=True), ErrorKind.UNAVAILABLE),
        (Fault(status=200, body=b""), ErrorKind.UNAVAILABLE),
        (Fault(status=200, body={"code": 1, "description": "Submit success"}), ErrorKind.UNAVAILABLE),  # no task id
        (Fault(status=200, body=["not", "an", "object"]), ErrorKind.UNAVAILABLE),
        (Fault(drop=True), ErrorKind.UNAVAILABLE),
    ],
)
def test_faults_on_submit_map_to_error_kinds(midjourney_proxy, fault, kind):
    midjourney_proxy.faults.append(fault)
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == kind and exc.value.kind.retryable
    assert exc.value.retry_after == (3 if kind == ErrorKind.RATE_LIMITED else None)


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "7"}, 7), ({}, provider.QUEUE_FULL_SECONDS)])
def test_a_full_queue_says_how_long_to_wait(midjourney_proxy, headers, wait):
    midjourney_proxy.faults.append(Fault(on=IMAGINE, status=200, body=QUEUE_FULL, headers=headers))
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.RATE_LIMITED and "queue is full" in exc.value.message
    assert exc.value.retry_after == wait


def test_the_runner_waits_retry_after_when_the_queue_is_full(midjourney_proxy, runner_waits):
    midjourney_proxy.faults.append(Fault(on=IMAGINE, status=200, body=QUEUE_FULL, headers={"Retry-After": "7"}))
    job = make_job(model_id="midjourney-v7", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 2 and len(runner_waits) == 1 and runner_waits[0] >= 7
    assert len(imagines(midjourney_proxy)) == 2  # the refused one, then the one that ran


@pytest.mark.parametrize(
    "fault",
    [
        Fault(on=FETCH, status=500, body=b"oops"),
        Fault(on=FETCH, status=502, body=b"bad gateway"),
        Fault(on=FETCH, malformed=True),
        Fault(on=FETCH, status=200, body={}),
        Fault(on=FETCH, drop=True),
    ],
)
def test_a_failed_fetch_is_fetched_again_and_the_imagine_bought_once(midjourney_proxy, runner_waits, fault):
    midjourney_proxy.faults.append(fault)
    job = make_job(model_id="midjourney-v7", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and not midjourney_proxy.faults
    assert len(imagines(midjourney_proxy)) == 1 and job.images.count() == 5


def test_a_task_that_succeeded_without_its_image_is_fetched_again(midjourney_proxy):
    first = provider.generate(request())
    done = {"id": first.provider_job_id, "status": "SUCCESS", "progress": "100%", "imageUrl": None}
    midjourney_proxy.faults.append(Fault(on=FETCH, status=200, body=done))
    provider.generate(request())
    assert len(imagines(midjourney_proxy)) == 2 and not midjourney_proxy.faults


def test_calls_reuse_the_session_and_its_connection(midjourney_proxy):
    provider.generate(request())
    provider.generate(request())
    api = [r for r in midjourney_proxy.requests if r.path.startswith("/mj/")]
    assert len(api) >= 4 and len({r.connection for r in api}) == 1


def test_the_progress_image_is_reported_as_a_preview_while_it_renders(midjourney_proxy):
    midjourney_proxy.duration = 2.0
    previews = []
    result = provider.generate(
        request(), progress=lambda tid, pct, preview=None: (preview and previews.append((pct, preview))) or True
    )
    assert previews and all(pct < 100 for pct, _ in previews)
    assert PILImage.open(io.BytesIO(previews[0][1])).format == "WEBP"  # Discord's progress image, not the result
    assert len(result.images) == 5
    fetched = [r.path for r in midjourney_proxy.requests if r.path.startswith("/attachments/progress/")]
    assert len(fetched) == len(set(fetched)) == len(previews)  # each new progress image fetched once


def test_a_cancel_stops_fetching(midjourney_proxy):
    midjourney_proxy.duration = 5
    with pytest.raises(Canceled):
        provider.generate(request(), progress=lambda tid, pct, preview=None: False)
    assert [r.path for r in midjourney_proxy.requests] == ["/mj/submit/imagine"]


def test_grid_buttons_on_the_detail_page_run_follow_up_jobs(midjourney_proxy, alice, user, run_jobs_inline):
    job = make_job(owner=user, model_id="midjourney-v7", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.images.count() == 5 and job.progress == 100
    grid = job.images.get(index=0)
    html = alice.get(reverse("gallery:detail", args=[grid.pk])).content.decode()
    assert 'value="U1"' in html and 'value="V4"' in html
    with run_jobs_inline(execute=True):
        response = alice.post(reverse("studio:midjourney_action", args=[grid.pk]), {"action": "V2"})
    follow = Job.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("studio:job", args=[follow.pk])
    assert follow.operation == "variation" and follow.source_image == grid
    assert follow.status == "succeeded", follow.error_message
    assert follow.images.count() == 5  # a variation is a new grid
    response = alice.post(
        reverse("studio:midjourney_action", args=[follow.images.first().pk]), {"action": "X9"}, follow=True
    )
    assert "works only on a Midjourney grid" in response.content.decode()


def huge_header_png(width: int, height: int) -> bytes:
    """A few hundred bytes whose PNG header claims width x height pixels (a bomb's shape)."""
    import struct
    import zlib

    small = bytearray(png_bytes(8, 8))
    ihdr = bytearray(small[12:29])  # "IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", width, height)
    small[12:29] = ihdr
    small[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(small)


@pytest.mark.parametrize("grid", [lambda: huge_header_png(12_000, 12_000), lambda: b"<html>not an image</html>"])
def test_the_grid_is_split_only_through_the_decoders_limits(grid):
    with pytest.raises(ImageRejected):
        provider.quadrants(grid())


def test_a_bomb_of_a_grid_from_the_proxy_fails_the_job_not_the_worker(midjourney_proxy, runner_waits):
    midjourney_proxy._render = lambda task: huge_header_png(12_000, 12_000)
    job = make_job(model_id="midjourney-v7", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "failed: bad image"
    job.refresh_from_db()
    assert job.error_kind == "invalid_request" and "too many pixels" in job.error_message
    assert not job.images.exists() and len(imagines(midjourney_proxy)) == 1


def test_a_grid_over_the_pixel_limit_is_refused(midjourney_proxy, settings):
    settings.IMAGE_MAX_PIXELS = 2_000_000  # the emulator's 16:9 grid is 2912x1632 = 4.75 MP
    with pytest.raises(ImageRejected, match="2912×1632 pixels; the limit is 2 megapixels"):
        provider.generate(request())


def test_a_task_waiting_for_a_confirmation_in_discord_fails_with_the_reason(midjourney_proxy):
    # The C# fork leaves a task in MODAL until someone confirms it in Discord: never final on its own.
    modal = {"id": "t-1", "status": "MODAL", "progress": "0%", "failReason": None}
    midjourney_proxy.faults.append(Fault(on=FETCH, status=200, body=modal))
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.INVALID_REQUEST and "confirm" in exc.value.message
    assert len(imagines(midjourney_proxy)) == 1


def test_a_fetch_outage_until_the_deadline_leaves_the_task_for_retry_to_collect(
    midjourney_proxy, runner_waits, settings
):
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 1.0
    midjourney_proxy.faults.append(Fault(on=FETCH, status=502, body=b"bad gateway", times=1000))
    job = make_job(model_id="midjourney-v7", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "failed: unavailable"
    job.refresh_from_db()
    assert job.attempts == 1 and runner_waits == [] and job.provider_job_id
    assert "(502)" in job.error_message and jobs.COLLECT_ADVICE in job.error_message and job.result_held
    # What Retry does with the kept task id: it fetches the task, and submits nothing.
    midjourney_proxy.faults.clear()
    collect = make_job(model_id="midjourney-v7", params=JOB_PARAMS, provider_job_id=job.provider_job_id)
    assert tasks.run_job(collect.pk) == "succeeded"
    assert len(imagines(midjourney_proxy)) == 1 and collect.images.count() == 5


def test_a_task_still_running_at_the_deadline_is_left_for_retry_to_collect(midjourney_proxy, settings):
    """The proxy has no cancel call: the task goes on in Discord, and its grid can still be collected."""
    midjourney_proxy.duration = 5
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 0.3
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.TIMEOUT and exc.value.may_be_paid
    assert "still running" in exc.value.message and "cannot be stopped from here" in exc.value.message
    assert exc.value.result_held  # the runner says Collect result (tests/test_result_held.py)


@pytest.mark.parametrize(
    "body",
    [
        {"id": "x", "status": {"a": 1}},
        {"id": "x", "status": "FAILURE", "failReason": 5},
        {"id": "x", "status": "SUCCESS", "imageUrl": {"url": "x"}},
        {"id": "x", "status": "IN_PROGRESS", "action": ["IMAGINE"]},
        ["x"],
    ],
)
def test_a_task_answer_in_the_wrong_shape_is_fetched_again(midjourney_proxy, runner_waits, body):
    midjourney_proxy.faults.append(Fault(on=FETCH, status=200, body=body))
    job = make_job(model_id="midjourney-v7", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "succeeded"
    assert len(imagines(midjourney_proxy)) == 1 and not midjourney_proxy.faults and runner_waits == []


def test_buttons_in_the_wrong_shape_are_left_out(midjourney_proxy):
    midjourney_proxy.task_overrides = {"buttons": ["U1", {"label": "U2", "customId": "c"}]}
    result = provider.generate(request())
    assert result.usage["buttons"] == [{"label": "U2", "customId": "c"}]


@pytest.mark.parametrize(
    "body",
    [
        {"code": 1, "description": "Submit success", "result": {"id": "1"}},
        {"code": "1", "description": "Submit success", "result": "123"},
        {"code": 1, "description": "Submit success", "result": ""},
    ],
)
def test_a_submit_answer_in_the_wrong_shape_may_have_been_paid(midjourney_proxy, body):
    midjourney_proxy.faults.append(Fault(on=IMAGINE, status=200, body=body))
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.UNAVAILABLE and exc.value.may_be_paid and "could not read" in exc.value.message


def test_a_ban_without_its_word_in_the_right_shape_is_still_a_ban(midjourney_proxy):
    body = {"code": 24, "description": "may contains sensitive words", "properties": "forbidden"}
    midjourney_proxy.faults.append(Fault(on=IMAGINE, status=200, body=body))
    with pytest.raises(ProviderError) as exc:
        provider.generate(request())
    assert exc.value.kind == ErrorKind.CONTENT_POLICY and exc.value.message == "Midjourney bans a word in the prompt."


def test_one_failed_download_of_the_grid_is_tried_again(midjourney_proxy, runner_waits, monkeypatch):
    monkeypatch.setattr(downloads, "RETRY_SECONDS", 0.01)
    midjourney_proxy.faults.append(Fault(on=r"GET /attachments/\w+\.png", status=502, body=b"bad gateway"))
    job = make_job(model_id="midjourney-v7", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "succeeded"
    assert len(imagines(midjourney_proxy)) == 1 and not midjourney_proxy.faults and job.images.count() == 5


@pytest.mark.parametrize(
    ("flavor", "secret", "base_url", "ok", "text"),
    [
        ("csharp", None, None, True, "the secret works"),
        ("csharp", "nope", None, False, "refused the secret: check MIDJOURNEY_PROXY_SECRET"),
        ("java", "nope", None, False, "The proxy refused: wrong secret."),
        ("csharp", None, "http://127.0.0.1:9", False, "Could not reach midjourney-proxy"),
    ],
)
def test_the_check_reads_the_proxys_answer_through_the_shared_layer(
    midjourney_proxy, settings, flavor, secret, base_url, ok, text
):
    midjourney_proxy.flavor = flavor
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "midjourney": {"api_key": secret or midjourney_proxy.secret, "base_url": base_url or midjourney_proxy.url},
    }
    check = provider.check()
    assert check.ok is ok and text in check.detail
