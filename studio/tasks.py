"""django-q2 task functions. They take ids, refetch rows, and own every state change of a job."""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from django_q.exceptions import TimeoutException

from studio import jobs, providers, specs, worker
from studio.downloads import DownloadFailed, DownloadGone, DownloadRefused
from studio.imaging import ImageRejected
from studio.models import Job
from studio.providers.base import Canceled, ErrorKind, ProviderError, ProviderResult
from studio.providers.http import AfterPurchase, Unfinished
from studio.specs import ImageRequest

log = logging.getLogger(__name__)
NOT_RETRIED = " The provider may still have made the image and charged for it, so Atelier did not try again: "
# How often a backoff wait looks whether the user canceled the job.
CANCEL_CHECK_SECONDS = 1.0


def _fail(
    job_id: int, request: ImageRequest, kind: ErrorKind, message: str, *, may_hold: bool, paid: bool, lead: str = " "
) -> None:
    """Fail the job, recording whether the provider may still hold its paid result (Job.result_held:
    the failure may leave it there, the provider-side job's id is kept, and the provider can be
    asked for it again) and saying, after `lead`, what Retry does, as the card's buttons will."""
    kept = Job.objects.filter(pk=job_id).exclude(provider_job_id="").exists()
    held = may_hold and kept and providers.can_resume(request.model.provider)
    if held or paid:
        message += lead + jobs.retry_advice(held=held)
    jobs.job_fail(job_id, kind, message, result_held=held)


def _bought(job_id: int) -> bool:
    """Whether the provider may have been paid for the job: it was asked, or this job collects."""
    attempts, kept = Job.objects.filter(pk=job_id).values_list("attempts", "provider_job_id").get()
    return attempts > 0 or bool(kept)


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    delay = random.uniform(0, min(settings.JOB_BACKOFF_MAX_SECONDS, 1.0 * 2**attempt))
    return max(delay, retry_after or 0.0)


def pause(job_id: int, seconds: float) -> bool:
    """Wait between attempts; False as soon as the job is no longer running (the user canceled)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, CANCEL_CHECK_SECONDS))
        if not Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).exists():
            return False
    return True


@contextmanager
def heartbeat(job_id: int) -> Iterator[None]:
    """Refresh the job's heartbeat while the provider works, so recovery leaves it alone. A
    database that fails for a moment costs a beat, not the thread: the next one reconnects."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
            try:
                Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
            except DatabaseError as exc:
                log.warning("job %s: heartbeat not recorded (%s); trying again", job_id, exc)
                close_old_connections()
        close_old_connections()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class JobProgress:
    """Records what the provider says about its work (its job id first, so recovery can re-attach
    to it, and its preview) and answers whether the job should go on: False when the user canceled
    it (the provider is told to stop too). A job recovery took from this worker (it looked dead) is
    left to whoever has it now, its provider-side job untouched: JobNoLongerRunning.

    `deadline` (time.monotonic) is when the provider must hand its answer back (studio.providers.http
    .job_deadline): a poll stops there, leaving the job time to cancel the provider-side job or to
    download and store its result before django-q2's timeout."""

    job_id: int
    deadline: float = math.inf
    # A collection (Job.collected_from): on the user's cancel the worker stops waiting but the
    # provider-side job is not stopped; its result was paid for and stays held (jobs.job_cancel).
    collects: bool = False

    def __call__(self, provider_job_id: str, percent: int | None, /, preview: bytes | None = None) -> bool:
        job_id = self.job_id
        fields = {"provider_job_id": provider_job_id, "heartbeat_at": timezone.now()}
        if percent is not None:
            fields["progress"] = max(0, min(100, percent))
        try:
            if preview is not None:
                jobs.preview_store(job_id, preview)
            if Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(**fields) == 1:
                return True
            canceled = Job.objects.filter(pk=job_id, status=Job.Status.CANCELED).exists()
        except DatabaseError:
            # A moment's database trouble must not end a job the provider is working on (and
            # billing): the provider goes on, and the next report tries again.
            log.warning("job %s: progress not recorded (database error)", job_id, exc_info=True)
            return True
        if canceled and not self.collects:
            return False
        raise jobs.JobNoLongerRunning(job_id)


def _progress(job_id: int, job_deadline: float = math.inf, *, collects: bool = False) -> JobProgress:
    """The job's progress, with the time its provider must answer by: one provider call's timeout
    before the job's own deadline (the cancel, or the download, that may follow the last poll)."""
    return JobProgress(job_id, job_deadline - settings.PROVIDER_TIMEOUT_SECONDS, collects)


def _call_provider(job: Job, request: ImageRequest, lease: datetime, deadline: float) -> ProviderResult:
    """Call the provider, retrying rate limits, outages and timeouts with backoff, while the job
    has time left (`deadline`, time.monotonic) for the wait and one more attempt."""
    provider = providers.get_provider(request.model.provider)
    progress = _progress(job.pk, deadline)
    attempt = 0
    while True:
        attempt += 1
        # Checked against the lease: a job sent back to the queue (its worker looked dead) is not
        # bought here as well.
        lease_held = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, started_at=lease)
        if not lease_held.update(attempts=attempt, heartbeat_at=timezone.now()):
            raise jobs.JobNoLongerRunning(job.pk)
        try:
            return provider.generate(request, progress)
        except ProviderError as exc:
            if not exc.retry_is_safe or attempt >= settings.JOB_MAX_ATTEMPTS:
                raise
            delay = backoff_seconds(attempt, exc.retry_after)
            left = deadline - time.monotonic() - settings.PROVIDER_TIMEOUT_SECONDS
            if delay > left:
                raise ProviderError(
                    exc.kind, f"{exc.message} (it asked to wait {delay:.0f} s, more than this job has left)"
                ) from exc
            log.info("job %s: %s (%s), retrying in %.1fs", job.pk, exc.kind, exc.message, delay)
            if not pause(job.pk, delay):
                raise Canceled from exc


def _run(job_id: int, work: Callable[[Job, ImageRequest], ProviderResult]) -> str:
    """Run a claimed job's provider work and record the outcome; every way out leaves it final
    (or, for a job taken from this worker, untouched)."""
    job = Job.objects.get(pk=job_id)
    try:
        request = specs.from_job(job)
    except specs.Invalid as exc:
        jobs.job_fail(job_id, ErrorKind.INVALID_REQUEST, str(exc))
        return "failed"
    try:
        with heartbeat(job_id), jobs.previews_cleared(job_id):
            result = work(job, request)
            jobs.job_succeed(job, result)
    except TimeoutException:
        # django-q2's own timeout (a SystemExit, raised by SIGALRM): the failure is recorded at
        # once, since django-q2 kills a worker still busy 3 s past its timeout. The provider-side
        # job is not canceled: it may have finished (the download or the storing ran out of time),
        # and its paid result is held for Collect result.
        _fail(
            job_id,
            request,
            ErrorKind.TIMEOUT,
            f"The job took longer than {settings.JOB_TIMEOUT_SECONDS} s and was stopped (timed out).",
            may_hold=True,
            paid=_bought(job_id),
            lead=NOT_RETRIED,
        )
        return "failed: timed out"
    except ProviderError as exc:
        # After the purchase the provider says whether its job may still hold the result; an
        # Unfinished one says itself what became of it, others get NOT_RETRIED's reason.
        _fail(
            job_id,
            request,
            exc.kind,
            exc.message,
            may_hold=isinstance(exc, AfterPurchase) and exc.result_held,
            paid=exc.may_be_paid,
            lead=" " if isinstance(exc, Unfinished) else NOT_RETRIED,
        )
        return f"failed: {exc.kind}"
    except ImageRejected as exc:
        # Paid for, but the provider would hand over the same unusable image again.
        message = f"The provider returned an unusable image: {exc}"
        _fail(job_id, request, ErrorKind.INVALID_REQUEST, message, may_hold=False, paid=True)
        return "failed: bad image"
    except DownloadRefused as exc:
        # The provider made the image and charged for it. A passing failure may pass (the link
        # lasts about an hour): the result is held. A result gone (404/410), or one Atelier
        # refuses (too big, a host not the provider's), would be the same on a second try.
        if isinstance(exc, DownloadFailed):
            then = " The provider made the image and has charged for it; its link lasts about an hour."
        elif isinstance(exc, DownloadGone):
            then = " The provider has charged for it but no longer holds it (Replicate keeps outputs about an hour)."
        else:
            then = " The provider has charged for it."
        message = f"Could not fetch the provider's result: {exc}{then}"
        _fail(job_id, request, ErrorKind.UNAVAILABLE, message, may_hold=isinstance(exc, DownloadFailed), paid=True)
        return "failed: download"
    except (jobs.JobNoLongerRunning, Canceled):
        # The user canceled, or recovery gave the job to another worker: nothing to record. If
        # it is still this worker's, the provider stopped its job by itself.
        if Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, worker=worker.worker_id()).exists():
            jobs.job_fail(job_id, ErrorKind.UNAVAILABLE, jobs.PROVIDER_STOPPED)
        return "discarded: canceled while running"
    except jobs.ResultNotStored:
        return "failed: storage"
    except Exception:
        # A bug, not a provider answer: keep the traceback in the log, and never leave the job
        # running. After the purchase the provider may still hold the result.
        log.exception("job %s crashed", job_id)
        message = "Atelier hit an internal error; the details are in the server log."
        _fail(job_id, request, ErrorKind.INTERNAL, message, may_hold=True, paid=_bought(job_id), lead=NOT_RETRIED)
        return "failed: internal"
    return "succeeded"


def _work(lease: datetime) -> Callable[[Job, ImageRequest], ProviderResult]:
    """What a claimed job needs: a job whose provider-side job a dead worker bought (its id is
    stored) is collected from it, polls only; any other is asked of the provider."""
    deadline = time.monotonic() + settings.JOB_TIMEOUT_SECONDS

    def work(job: Job, request: ImageRequest) -> ProviderResult:
        if job.provider_job_id:
            progress = _progress(job.pk, deadline, collects=job.collected_from_id is not None)
            return providers.resume(request.model.provider, request, job.provider_job_id, progress)
        return _call_provider(job, request, lease, deadline)

    return work


def run_next() -> str:
    """The queue's task: claim the next queued job (studio.jobs.job_claim_next) and run it."""
    if worker.draining():
        return "skipped: this worker is stopping"
    claimed = jobs.job_claim_next()
    if claimed is None:
        return "skipped: nothing queued"
    job_id, lease = claimed
    return _run(job_id, _work(lease))


def run_job(job_id: int) -> str:
    """Run one given job now (the CLI's --inline)."""
    lease = jobs.job_start(job_id)
    if lease is None:
        return "skipped: not queued"
    return _run(job_id, _work(lease))
