"""The worker task: state transitions, retries with backoff, clean failures, and the reaper."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from gallery.models import Image
from studio import jobs, providers, recovery, tasks
from studio.models import Job
from studio.providers import offline
from studio.providers.base import ErrorKind, GeneratedImage, ProviderError, ProviderResult
from tests.conftest import wait_for
from tests.factories import make_job, png_bytes

pytestmark = pytest.mark.django_db


class ScriptedProvider:
    """A provider whose answers are given in order: exceptions are raised, results returned."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def generate(self, request, progress):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def scripted(monkeypatch):
    def install(*answers):
        provider = ScriptedProvider(*answers)
        monkeypatch.setitem(providers._IMPLEMENTED, "offline", provider)
        return provider

    return install


@pytest.fixture
def sleeps(runner_waits):
    return runner_waits


def ok(n=1):
    return ProviderResult(images=[GeneratedImage(png_bytes(), seed=5)] * n, provider_job_id="prov-1", usage={"x": 1})


def stored_files():
    found = []
    for folder in ("images", "thumbs"):
        if default_storage.exists(folder):
            for sub in default_storage.listdir(folder)[0]:
                found += default_storage.listdir(f"{folder}/{sub}")[1]
    return found


def test_success_records_images_timings_and_cost():
    job = make_job(
        params={"width": 64, "height": 64, "quality": "draft", "n": 2, "seed": 3, "options": {}, "version": 2}
    )
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.started_at <= job.finished_at
    assert job.attempts == 1 and job.usage == {"renderer": "offline", "images": 2}
    assert job.cost == 0
    assert [i.seed for i in job.images.order_by("index")] == [3, 4]
    assert len(stored_files()) == 4


def test_a_job_that_is_not_queued_is_left_alone():
    job = make_job(status=Job.Status.CANCELED)
    assert tasks.run_job(job.pk) == "skipped: not queued"


def test_rate_limit_is_retried_after_retry_after(scripted, sleeps):
    provider = scripted(ProviderError(ErrorKind.RATE_LIMITED, "slow down", retry_after=3), ok())
    job = make_job()
    assert tasks.run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert provider.calls == 2 and job.attempts == 2
    assert sleeps and sleeps[0] >= 3


def test_retries_are_bounded(scripted, sleeps, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    scripted(*[ProviderError(ErrorKind.UNAVAILABLE, "down for maintenance")] * 3)
    job = make_job()
    tasks.run_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.error_kind, job.error_message, job.attempts) == (
        "failed",
        "unavailable",
        "down for maintenance",
        3,
    )
    assert len(sleeps) == 2


def test_content_policy_fails_at_once_with_the_providers_words(scripted, sleeps):
    scripted(ProviderError(ErrorKind.CONTENT_POLICY, "Your request was rejected by the safety system."))
    job = make_job()
    tasks.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.error_message == "Your request was rejected by the safety system."
    assert sleeps == []


def test_a_crash_fails_the_job_instead_of_leaving_it_running(scripted):
    scripted(ZeroDivisionError("bug"))
    job = make_job()
    assert tasks.run_job(job.pk) == "failed: internal"
    job.refresh_from_db()
    assert job.status == "failed" and "internal error" in job.error_message


def test_an_unusable_image_fails_and_leaves_no_files(scripted):
    scripted(ProviderResult(images=[GeneratedImage(png_bytes()), GeneratedImage(b"not an image")]))
    job = make_job()
    tasks.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "unusable image" in job.error_message
    assert stored_files() == [] and not Image.objects.exists()


def test_canceled_while_running_discards_the_result(monkeypatch):
    job = make_job()

    def cancel_then_render(request, progress):
        Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELED)
        return offline.generate(request)

    monkeypatch.setitem(
        providers._IMPLEMENTED, "offline", type("P", (), {"generate": staticmethod(cancel_then_render)})
    )
    assert tasks.run_job(job.pk) == "discarded: canceled while running"
    job.refresh_from_db()
    assert job.status == "canceled" and stored_files() == [] and not Image.objects.exists()


def test_backoff_grows_and_honours_retry_after():
    assert tasks.backoff_seconds(1, 10) >= 10
    assert all(0 <= tasks.backoff_seconds(5, None) <= 30 for _ in range(50))


def test_recovery_fails_jobs_whose_worker_stopped_after_calling_the_provider(settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    old = timezone.now() - timedelta(minutes=5)
    stuck = make_job(status=Job.Status.RUNNING, started_at=old, heartbeat_at=old, attempts=1)
    alive = make_job(status=Job.Status.RUNNING, started_at=old, heartbeat_at=timezone.now(), attempts=1)
    assert recovery.sweep().lost == 1
    stuck.refresh_from_db()
    alive.refresh_from_db()
    assert stuck.status == "failed" and "worker lost" in stuck.error_message
    assert alive.status == "running"


def test_heartbeat_is_refreshed_while_the_provider_works(settings, monkeypatch, transactional_db):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    job = make_job()
    seen = []

    def slow(request, progress):
        import time

        before = Job.objects.get(pk=job.pk).heartbeat_at
        time.sleep(0.3)
        seen.append((before, Job.objects.get(pk=job.pk).heartbeat_at))
        return offline.generate(request)

    monkeypatch.setitem(providers._IMPLEMENTED, "offline", type("P", (), {"generate": staticmethod(slow)}))
    tasks.run_job(job.pk)
    before, after = seen[0]
    assert after > before


def test_a_call_that_may_have_been_paid_is_not_made_again(scripted, sleeps):
    provider = scripted(
        ProviderError(ErrorKind.TIMEOUT, "OpenAI did not answer in time. It may still have made the image.",
                      may_be_paid=True),
        ok(),
    )  # fmt: skip
    job = make_job(params={"width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "draft", "n": 1,
                           "seed": 3, "options": {}, "version": 2})  # fmt: skip
    assert tasks.run_job(job.pk) == "failed: timeout"
    job.refresh_from_db()
    assert provider.calls == 1 and job.attempts == 1 and sleeps == []
    assert job.status == "failed" and "may still have made the image" in job.error_message


def test_a_retry_after_longer_than_the_job_has_left_fails_at_once(scripted, sleeps, settings):
    settings.JOB_TIMEOUT_SECONDS = 600
    provider = scripted(ProviderError(ErrorKind.RATE_LIMITED, "slow down", retry_after=3600), ok())
    job = make_job()
    assert tasks.run_job(job.pk) == "failed: rate_limited"
    job.refresh_from_db()
    assert provider.calls == 1 and sleeps == []
    assert "slow down (it asked to wait 3600 s, more than this job has left)" in job.error_message


def test_a_cancel_during_the_backoff_wait_ends_the_job_without_another_call(scripted, monkeypatch, transactional_db):
    monkeypatch.setattr(tasks, "CANCEL_CHECK_SECONDS", 0.05)
    provider = scripted(ProviderError(ErrorKind.RATE_LIMITED, "slow down", retry_after=20), ok())
    job = make_job()
    timer = threading.Timer(0.3, lambda: Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELED))
    timer.start()
    started = time.monotonic()
    assert tasks.run_job(job.pk) == "discarded: canceled while running"
    assert time.monotonic() - started < 5 and provider.calls == 1
    assert Job.objects.get(pk=job.pk).status == "canceled"


def test_a_worker_whose_job_was_queued_again_does_not_buy_it(scripted, monkeypatch):
    """Recovery queued the job again (its heartbeat looked dead); the old worker wakes from its
    backoff: its lease is void, so it stops instead of calling the provider a second time."""
    job = make_job()

    def requeued_meanwhile(job_id, seconds):
        Job.objects.filter(pk=job_id).update(status=Job.Status.QUEUED, started_at=None)
        jobs.job_start(job_id)  # another worker claims it
        Job.objects.filter(pk=job_id).update(worker="host-b:4242")
        return True

    provider = scripted(ProviderError(ErrorKind.UNAVAILABLE, "busy"), ok())
    monkeypatch.setattr(tasks, "pause", requeued_meanwhile)
    assert tasks.run_job(job.pk) == "discarded: canceled while running"
    assert provider.calls == 1 and Job.objects.get(pk=job.pk).status == "running"


def test_the_heartbeat_survives_a_dropped_database_connection(settings, transactional_db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("cuts PostgreSQL connections (make test runs this file on PostgreSQL too)")
    settings.JOB_HEARTBEAT_SECONDS = 0.1
    job = make_job(status=Job.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5))

    def beat_after(moment):
        return lambda: Job.objects.get(pk=job.pk).heartbeat_at > moment

    with tasks.heartbeat(job.pk):
        assert wait_for(beat_after(timezone.now()), timeout=10)
        with connection.cursor() as cursor:  # every connection but ours: the heartbeat thread's
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            # the heartbeat thread's, and any other an earlier test's thread left open
            terminated = cursor.fetchall()
            assert terminated and all(row == (True,) for row in terminated)
        assert wait_for(beat_after(timezone.now()), timeout=10)
