"""The recovery sweep: lost tasks are sent again, a dead worker's paid provider job is collected
(never bought again), a synchronous call that may have completed fails as "worker lost"."""

import subprocess
import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone
from django_q.models import OrmQ

from studio import jobs, providers, recovery, specs, tasks, worker
from studio.catalog import Operation
from studio.models import Job
from studio.providers import midjourney, replicate, stability
from studio.specs import EditSettings, Size
from tests.conftest import wait_for
from tests.factories import make_job, make_request, make_user, png_bytes

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """Stands for the worker process dying where it is raised (nothing after it runs)."""


def running_job(request: specs.ImageRequest, owner=None, **fields) -> Job:
    """A job as its worker left it: claimed, the provider asked (attempts=1), heartbeat long stale."""
    job = jobs.job_create(owner=owner or make_user(), request=request, enqueue=False)
    old = timezone.now() - timedelta(minutes=10)
    fields = {"attempts": 1, **fields}
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=old, **fields)
    return job


def die_once_bought(job: Job):
    """Progress that records the provider's job id as the runner does, then kills the worker."""
    report = tasks._progress(job.pk)

    def progress(provider_job_id: str, percent: int | None) -> bool:
        report(provider_job_id, percent)
        raise WorkerDied

    return progress


def buy_then_die(job: Job, request: specs.ImageRequest) -> None:
    with pytest.raises(WorkerDied):
        providers.get_provider(request.model.provider).generate(request, die_once_bought(job))
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))


def test_a_replicate_prediction_of_a_dead_worker_is_collected_not_bought_again(
    replicate_emulator, run_jobs_inline, settings, monkeypatch
):
    settings.REPLICATE_WAIT_SECONDS = 0
    monkeypatch.setattr(replicate, "POLL_SECONDS", 0.05)
    request = specs.build(model="flux-schnell", prompt="a harbour", available=False)
    job = running_job(request)
    buy_then_die(job, request)
    with run_jobs_inline(execute=True):
        assert recovery.sweep().reattached == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and job.images.count() == 1, job.error_message
    creates = [r for r in replicate_emulator.requests if r.method == "POST" and r.path.endswith("/predictions")]
    assert len(creates) == 1


def test_a_creative_upscale_of_a_dead_worker_is_collected_not_bought_again(
    stability_emulator, run_jobs_inline, monkeypatch
):
    monkeypatch.setattr(stability, "POLL_SECONDS", 0.05)
    request = make_request(
        "stable-image-ultra", Operation.UPSCALE, source=png_bytes(32, 24), size=Size.of(128, 96),
        edit=EditSettings(factor=4),
    )  # fmt: skip
    job = running_job(request)
    buy_then_die(job, request)
    with run_jobs_inline(execute=True):
        assert recovery.sweep().reattached == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and job.images.get().width == 128, job.error_message
    buys = [r for r in stability_emulator.requests if r.path == "/v2beta/stable-image/upscale/creative"]
    assert len(buys) == 1


def test_a_midjourney_task_of_a_dead_worker_is_collected_not_submitted_again(
    midjourney_proxy, run_jobs_inline, monkeypatch
):
    monkeypatch.setattr(midjourney, "POLL_SECONDS", 0.05)
    midjourney_proxy.duration = 0.3
    request = specs.build(model="midjourney-v7", prompt="a lighthouse", available=False)
    job = running_job(request)
    buy_then_die(job, request)
    with run_jobs_inline(execute=True):
        assert recovery.sweep().reattached == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and job.images.count() == 5, job.error_message  # the grid and its four parts
    assert len([r for r in midjourney_proxy.requests if r.path == "/mj/submit/imagine"]) == 1


def test_a_synchronous_call_that_may_have_completed_fails_as_worker_lost_and_can_be_retried(alice, user):
    job = running_job(specs.build(model="offline", prompt="a field", quality="draft"), owner=user)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert recovery.sweep().lost == 1
    job.refresh_from_db()
    assert job.status == "failed" and "worker lost" in job.error_message and "did not ask again" in job.error_message
    assert alice.post(f"/jobs/{job.pk}/retry/", HTTP_HX_REQUEST="true").status_code == 200
    assert Job.objects.filter(status="queued").count() == 1


def test_a_claimed_job_that_never_asked_the_provider_is_queued_again(django_capture_on_commit_callbacks):
    job = running_job(specs.build(model="offline", prompt="a field", quality="draft"), attempts=0)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert recovery.sweep().requeued == 1
    job.refresh_from_db()
    assert job.status == "queued" and job.started_at is None
    assert OrmQ.objects.count() == 1  # its task, on the broker


def test_a_live_job_is_left_alone(settings):
    job = running_job(specs.build(model="offline", prompt="a field", quality="draft"))
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    assert recovery.sweep() == recovery.Swept()
    assert Job.objects.get(pk=job.pk).status == "running"


def test_queued_jobs_the_broker_holds_no_task_for_get_one_and_only_once():
    make_job()
    make_job()
    jobs.send_tasks(1)  # one job's task waits in the broker; the other's was lost with a worker
    assert recovery.sweep().sent == 1
    assert OrmQ.objects.count() == 2
    assert recovery.sweep().sent == 0  # a second sweep (another cluster) finds nothing to do


def test_a_job_whose_worker_on_this_host_is_gone_is_recovered_without_waiting_for_its_heartbeat(settings):
    settings.JOB_STALE_AFTER_SECONDS = 600
    gone = subprocess.Popen(["true"])
    gone.wait()
    job = running_job(specs.build(model="offline", prompt="a field", quality="draft"))
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now(), worker=f"{settings.WORKER_HOST}:{gone.pid}")
    alive = running_job(specs.build(model="offline", prompt="a field", quality="draft"))
    Job.objects.filter(pk=alive.pk).update(heartbeat_at=timezone.now(), worker=worker.worker_id())
    elsewhere = running_job(specs.build(model="offline", prompt="a field", quality="draft"))
    Job.objects.filter(pk=elsewhere.pk).update(heartbeat_at=timezone.now(), worker=f"other-host:{gone.pid}")
    assert recovery.sweep().lost == 1
    assert Job.objects.get(pk=job.pk).status == "failed"
    assert Job.objects.get(pk=alive.pk).status == Job.objects.get(pk=elsewhere.pk).status == "running"


def test_a_worker_whose_job_recovery_took_away_leaves_the_prediction_alone(
    replicate_emulator, settings, monkeypatch, transactional_db
):
    """The old worker was only slow (its heartbeat looked dead): it stops without canceling the
    prediction, and the worker that has the job now collects it."""
    settings.REPLICATE_WAIT_SECONDS = 0
    monkeypatch.setattr(replicate, "POLL_SECONDS", 0.05)
    replicate_emulator.latency = 1.0
    job = jobs.job_create(owner=make_user(), request=specs.build(model="flux-schnell", prompt="slow", available=False),
                          enqueue=False)  # fmt: skip
    outcome = []
    old_worker = threading.Thread(target=lambda: outcome.append(tasks.run_job(job.pk)))
    old_worker.start()
    assert wait_for(lambda: Job.objects.get(pk=job.pk).provider_job_id, timeout=10)
    assert recovery.recover_running(Job.objects.get(pk=job.pk)) == "reattached"
    old_worker.join(timeout=10)
    assert outcome == ["discarded: canceled while running"]
    assert Job.objects.get(pk=job.pk).status == "queued"
    assert tasks.run_next() == "succeeded"
    assert not [r for r in replicate_emulator.requests if r.path.endswith("/cancel")]
    assert len([r for r in replicate_emulator.requests if r.path.endswith("/predictions")]) == 1


def test_a_sweep_that_saw_the_job_before_its_worker_began_an_attempt_leaves_it_alone(monkeypatch):
    """The sweep reads a stale job with attempts=0; its worker, alive after all, then begins an
    attempt (and pays). The sweep's takeover must not match: requeued, it would be bought twice."""
    job = jobs.job_create(owner=make_user(), request=specs.build(model="offline", prompt="x"), enqueue=False)
    lease = jobs.job_start(job.pk)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    (seen,) = recovery.dead_workers_jobs()
    assert seen.attempts == 0

    def paying(request, progress):
        raise WorkerDied  # stands for the worker busy in the provider's call

    monkeypatch.setattr(providers.get_provider("offline"), "generate", paying)
    with pytest.raises(WorkerDied):  # the worker's attempt: the lease check passes, the provider is called
        tasks._call_provider(job, specs.from_job(job), lease, deadline=float("inf"))
    assert recovery.recover_running(seen) == "taken by another sweep"
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("running", 1)


def test_a_database_error_while_reporting_progress_does_not_end_the_paid_job(monkeypatch):
    job = jobs.job_create(owner=make_user(), request=specs.build(model="offline", prompt="x"), enqueue=False)
    jobs.job_start(job.pk)
    report = tasks._progress(job.pk)
    assert report("pred-1", 10)

    def locked(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(Job.objects, "filter", locked)
    assert report("pred-1", 20)  # goes on; the next report records it
    monkeypatch.undo()
    job.refresh_from_db()
    assert (job.status, job.provider_job_id, job.progress) == ("running", "pred-1", 10)
