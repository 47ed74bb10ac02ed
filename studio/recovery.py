"""The recovery sweep: jobs whose task or worker was lost are sent again, re-attached to what the
provider is already making, or failed as "worker lost". Every cluster runs it (studio.worker);
each change is a conditional update, so many sweeps at once never act twice on one job."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from studio import jobs, providers
from studio.models import Job
from studio.providers.base import ErrorKind

log = logging.getLogger(__name__)
Status = Job.Status
WORKER_LOST = (
    "The worker running this job stopped (worker lost) after it had asked the provider, which may have made "
    "the image and charged for it, so Atelier did not ask again. Retry to run it anew."
)


@dataclass(frozen=True)
class Swept:
    resent: int = 0  # queued jobs whose task was sent again
    requeued: int = 0  # running jobs that had not called the provider yet, queued again
    reattached: int = 0  # running jobs handed to a new worker to collect the provider's result
    lost: int = 0  # running jobs failed as "worker lost"


def sweep() -> Swept:
    now = timezone.now()
    resent = resend_queued(now)
    requeued = reattached = lost = 0
    stale = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    for job in Job.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale).order_by():
        outcome = recover_running(job)
        requeued += outcome == "requeued"
        reattached += outcome == "reattached"
        lost += outcome == "lost"
    swept = Swept(resent, requeued, reattached, lost)
    if swept != Swept():
        log.warning("recovery: %s", swept)
    return swept


def resend_queued(now: datetime) -> int:
    """Send a task again for jobs queued longer than JOB_REQUEUE_AFTER_SECONDS since their task was
    sent (a cluster that died took it, or the broker was down), as many as the broker is short of
    tasks for the queued jobs: a long queue whose tasks all wait in the broker is left alone. One
    sweep wins each job (the others find its `enqueued_at` moved on); a spare task is a no-op."""
    due = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS)
    stranded = Job.objects.filter(status=Status.QUEUED, enqueued_at__lt=due)
    if not stranded.exists():
        return 0
    short = Job.objects.filter(status=Status.QUEUED).count() - jobs.broker().queue_size()
    ids = list(stranded.order_by("queued_at").values_list("pk", flat=True)[: max(0, min(short, 500))])
    count = stranded.filter(pk__in=ids).update(enqueued_at=now) if ids else 0
    jobs.send_tasks(count, name="resent")
    return count


def recover_running(job: Job) -> str:
    """One running job with a stale heartbeat. Each branch first takes the job over with a
    conditional update on the heartbeat it saw, so only one sweep acts on it."""
    mine = Job.objects.filter(pk=job.pk, status=Status.RUNNING, heartbeat_at=job.heartbeat_at)
    if job.attempts == 0:
        # Claimed but the provider never asked: nothing was bought, run it from the start. The
        # new start time voids the old worker's lease, should it still be alive.
        if mine.update(status=Status.QUEUED, started_at=None, heartbeat_at=None, enqueued_at=timezone.now()):
            jobs.send_tasks(1, name=f"job-{job.pk}")
            return "requeued"
    elif job.provider_job_id and providers.can_resume(job.model.provider if job.model else ""):
        if mine.update(heartbeat_at=timezone.now()):
            async_task("studio.tasks.resume_job", job.pk, task_name=f"resume-{job.pk}", broker=jobs.broker())
            return "reattached"
    elif mine.update(
        status=Status.FAILED,
        error_kind=ErrorKind.UNAVAILABLE.value,
        error_message=WORKER_LOST,
        finished_at=timezone.now(),
    ):
        return "lost"
    return "taken by another sweep"
