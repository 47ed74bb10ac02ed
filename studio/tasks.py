"""django-q2 task functions. They take ids, refetch rows, and own every state change of a job."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from studio import jobs, providers, specs
from studio.downloads import DownloadRefused
from studio.imaging import ImageRejected
from studio.models import Job
from studio.providers.base import Canceled, ErrorKind, Progress, ProviderError, ProviderResult
from studio.specs import ImageRequest

log = logging.getLogger(__name__)
NOT_RETRIED = (
    " The provider may still have made the image and charged for it, so Atelier did not try again: "
    "Retry to run it anew."
)


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    delay = random.uniform(0, min(30.0, 1.0 * 2**attempt))
    return max(delay, retry_after or 0.0)


@contextmanager
def heartbeat(job_id: int) -> Iterator[None]:
    """Refresh the job's heartbeat while the provider works, so the reaper leaves it alone."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
            Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        close_old_connections()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _progress(job_id: int) -> Progress:
    """Record what the provider says about its work; answer whether the job should go on."""

    def report(provider_job_id: str, percent: int | None, /, preview: bytes | None = None) -> bool:
        fields = {"provider_job_id": provider_job_id, "heartbeat_at": timezone.now()}
        if percent is not None:
            fields["progress"] = max(0, min(100, percent))
        if preview is not None:
            jobs.preview_store(job_id, preview)
        return Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(**fields) == 1

    return report


def _call_provider(job: Job, request: ImageRequest) -> ProviderResult:
    """Call the provider, retrying rate limits, outages and timeouts with backoff."""
    provider = providers.get_provider(request.model.provider)
    progress = _progress(job.pk)
    attempt = 0
    while True:
        attempt += 1
        Job.objects.filter(pk=job.pk).update(attempts=attempt)
        try:
            return provider.generate(request, progress)
        except ProviderError as exc:
            if not exc.retry_is_safe or attempt >= settings.JOB_MAX_ATTEMPTS:
                raise
            delay = backoff_seconds(attempt, exc.retry_after)
            log.info("job %s: %s (%s), retrying in %.1fs", job.pk, exc.kind, exc.message, delay)
            time.sleep(delay)


def run_job(job_id: int) -> str:
    if not jobs.job_start(job_id):
        return "skipped: not queued"
    job = Job.objects.get(pk=job_id)
    try:
        request = specs.from_job(job)
    except specs.Invalid as exc:
        jobs.job_fail(job_id, ErrorKind.INVALID_REQUEST, str(exc))
        return "failed"
    try:
        with heartbeat(job_id), jobs.previews_cleared(job_id):
            result = _call_provider(job, request)
            jobs.job_succeed(job, result)
    except ProviderError as exc:
        jobs.job_fail(job_id, exc.kind, exc.message + (NOT_RETRIED if exc.may_be_paid and exc.kind.retryable else ""))
        return f"failed: {exc.kind}"
    except ImageRejected as exc:
        jobs.job_fail(job_id, ErrorKind.INVALID_REQUEST, f"The provider returned an unusable image: {exc}")
        return "failed: bad image"
    except DownloadRefused as exc:
        jobs.job_fail(job_id, ErrorKind.UNAVAILABLE, f"Could not fetch the provider's result: {exc}")
        return "failed: download"
    except (jobs.JobNoLongerRunning, Canceled):
        return "discarded: canceled while running"
    except jobs.ResultNotStored:
        return "failed: storage"
    except Exception:
        # A bug, not a provider answer: keep the traceback in the log, and never leave the job running.
        log.exception("job %s crashed", job_id)
        jobs.job_fail(job_id, ErrorKind.INTERNAL, "Atelier hit an internal error; the details are in the server log.")
        return "failed: internal"
    return "succeeded"


def reap_stuck_jobs() -> int:
    """Fail running jobs whose worker stopped sending heartbeats."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    reaped = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=stale).update(
        status=Job.Status.FAILED,
        error_kind=ErrorKind.UNAVAILABLE.value,
        error_message="The worker running this job stopped (worker lost). Retry to run it again.",
        finished_at=timezone.now(),
    )
    if reaped:
        log.warning("reaped %d stuck job(s)", reaped)
    return reaped
