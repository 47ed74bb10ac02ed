"""Retry of a failed job whose provider-side job may still hold the result collects it (polls
only, never a second purchase); a job the provider failed, stopped or the user canceled is bought
anew. The card says which happens."""

import pytest
from django.urls import reverse
from django.utils import timezone

from studio import jobs, providers, specs, tasks
from studio.models import Job
from studio.providers import replicate
from studio.providers.base import ErrorKind
from tests.factories import make_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TIMED_OUT = "Replicate did not finish in time." + tasks.NOT_RETRIED


class Stopped(Exception):
    """The runner stopped waiting (its deadline passed) once the prediction was bought."""


@pytest.fixture
def replicate_fast(replicate_emulator, settings, monkeypatch):
    settings.REPLICATE_WAIT_SECONDS = 0
    monkeypatch.setattr(replicate, "POLL_SECONDS", 0.02)
    return replicate_emulator


def bought_then_failed(owner, kind: ErrorKind = ErrorKind.TIMEOUT, message: str = TIMED_OUT) -> Job:
    """A Replicate job whose prediction was created (and is being made), then failed as `kind`
    with the prediction's id kept, as the runner leaves a job whose polls failed to the deadline."""
    request = specs.build(model="flux-schnell", prompt="a harbour at dawn", seed=4, available=False)
    job = jobs.job_create(owner=owner, request=request, enqueue=False)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now(), attempts=1)
    report = tasks._progress(job.pk)

    def stop_once_bought(provider_job_id, percent, /, preview=None):
        report(provider_job_id, percent)
        raise Stopped

    with pytest.raises(Stopped):
        providers.get_provider("replicate").generate(request, stop_once_bought)
    jobs.job_fail(job.pk, kind, message)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.provider_job_id
    return job


@pytest.fixture
def replicate_configured(settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "replicate": {"api_key": "test", "base_url": "http://x"},
    }


def creates(emulator) -> list:
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/predictions")]


def test_retry_of_a_timed_out_prediction_collects_it_without_buying_again(alice, user, replicate_fast, run_jobs_inline):
    failed = bought_then_failed(user)
    prediction = failed.provider_job_id
    card = alice.get(reverse("studio:job", args=[failed.pk]), **HTMX).content.decode()
    assert "Collect result" in card and "data-collect-hint" in card and ">Retry<" not in card

    polls_before = len(replicate_fast.requests)
    with run_jobs_inline(execute=True):
        response = alice.post(reverse("studio:job_retry", args=[failed.pk]), **HTMX)
    assert "Collecting the provider's result" in response.content.decode()
    retry = Job.objects.exclude(pk=failed.pk).get()
    assert retry.status == Job.Status.SUCCEEDED, retry.error_message
    assert retry.provider_job_id == prediction and retry.images.count() == 1
    assert len(creates(replicate_fast)) == 1  # the original purchase only
    polled = [r for r in replicate_fast.requests[polls_before:] if r.path == f"/v1/predictions/{prediction}"]
    assert polled and all(r.method == "GET" for r in polled)
    # The prediction moved to the retry: the failed job cannot collect it a second time.
    failed.refresh_from_db()
    assert failed.provider_job_id == "" and not jobs.job_collects(failed)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (ErrorKind.INVALID_REQUEST, "The prediction failed."),
        (ErrorKind.CONTENT_POLICY, "NSFW content detected."),
        (ErrorKind.UNAVAILABLE, jobs.PROVIDER_STOPPED),
        (ErrorKind.STORAGE, "The provider made the image and was paid, but Atelier could not store the result."),
    ],
)
def test_retry_buys_anew_when_the_provider_ended_the_job_without_a_result(
    alice, user, replicate_fast, run_jobs_inline, kind, message
):
    failed = bought_then_failed(user, kind, message)
    card = alice.get(reverse("studio:job", args=[failed.pk]), **HTMX).content.decode()
    assert ">Retry<" in card and "Collect result" not in card
    with run_jobs_inline(execute=True):
        alice.post(reverse("studio:job_retry", args=[failed.pk]), **HTMX)
    retry = Job.objects.exclude(pk=failed.pk).get()
    assert retry.status == Job.Status.SUCCEEDED, retry.error_message
    assert retry.provider_job_id != failed.provider_job_id and len(creates(replicate_fast)) == 2


def test_a_canceled_job_is_bought_anew():
    job = make_job(status=Job.Status.CANCELED, model_id="flux-schnell", provider_job_id="p1", error_kind="")
    assert not jobs.job_collects(job)


def test_run_anew_buys_again_although_the_result_could_be_collected(alice, user, replicate_fast, run_jobs_inline):
    failed = bought_then_failed(user)
    with run_jobs_inline(execute=True):
        alice.post(reverse("studio:job_retry", args=[failed.pk]), {"fresh": "1"}, **HTMX)
    retry = Job.objects.exclude(pk=failed.pk).get()
    assert retry.status == Job.Status.SUCCEEDED and len(creates(replicate_fast)) == 2
    failed.refresh_from_db()
    assert failed.provider_job_id  # still there to collect


def test_a_synchronous_provider_has_nothing_to_collect(user):
    job = make_job(owner=user, status=Job.Status.FAILED, model_id="gpt-image-1.5", error_kind="timeout",
                   provider_job_id="req_123", error_message="OpenAI did not answer in time.")  # fmt: skip
    assert not jobs.job_collects(job)


def test_a_collection_is_not_refused_for_a_setting_the_catalog_no_longer_offers(user, replicate_configured):
    """The image was bought already: only a new purchase must keep today's rules."""
    params = {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "ultra", "n": 1,
              "seed": 1, "options": {}}  # fmt: skip
    job = make_job(owner=user, status=Job.Status.FAILED, model_id="flux-schnell", params=params, error_kind="timeout",
                   provider_job_id="p1", error_message=TIMED_OUT)  # fmt: skip
    with pytest.raises(specs.Invalid):
        jobs.job_retry(job=job, owner=user, fresh=True)
    retry = jobs.job_retry(job=job, owner=user)
    assert retry.provider_job_id == "p1" and retry.params["quality"] == "ultra"


def test_two_retries_racing_for_one_prediction_collect_it_once(user, replicate_configured):
    job = make_job(owner=user, status=Job.Status.FAILED, model_id="flux-schnell", error_kind="timeout",
                   provider_job_id="p1", error_message=TIMED_OUT)  # fmt: skip
    stale = Job.objects.get(pk=job.pk)  # loaded by a second request before the first retry
    jobs.job_retry(job=job, owner=user)
    with pytest.raises(jobs.NotRetryable, match="already collecting"):
        jobs.job_retry(job=stale, owner=user)
    assert Job.objects.filter(provider_job_id="p1").count() == 1
