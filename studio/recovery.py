"""The recovery sweep: tasks lost with a worker are sent again, a dead worker's paid provider job
is re-attached to, and a synchronous call that may have completed fails as "worker lost". Every
worker runs it (studio.worker); each change is a conditional update, and a spare task is a no-op,
so any number of sweeps at once never act twice on one job."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

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
    sent: int = 0  # tasks sent for queued jobs the broker held none for
    requeued: int = 0  # running jobs that had not asked the provider yet, queued again
    reattached: int = 0  # running jobs handed to a new worker to collect the provider's result
    lost: int = 0  # running jobs failed as "worker lost"


def sweep() -> Swept:
    outcomes = [recover_running(job) for job in dead_workers_jobs()]
    swept = Swept(
        top_up_tasks(),
        outcomes.count("requeued"),
        outcomes.count("reattached"),
        outcomes.count("lost"),
    )
    if swept != Swept():
        log.warning("recovery: %s", swept)
    return swept


def top_up_tasks() -> int:
    """Send as many tasks as the broker is short of one per queued job. Tasks are not tied to jobs
    (each runs the fairest queued one), so what a dead cluster had fetched is made up for, and a
    spare task (one a live cluster had fetched, or one racing a commit) finds nothing and ends."""
    queued = Job.objects.filter(status=Status.QUEUED).count()
    short = queued - jobs.broker().queue_size() if queued else 0
    jobs.send_tasks(max(0, short), name="top-up")
    return max(0, short)


def dead_workers_jobs() -> list[Job]:
    """Running jobs whose heartbeat is older than JOB_STALE_AFTER_SECONDS, and at once those whose
    worker ran on this host and is gone (a cluster restarted after a crash recovers its own)."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    here = f"{settings.WORKER_HOST}:"
    running = Job.objects.filter(status=Status.RUNNING).filter(Q(heartbeat_at__lt=stale) | Q(worker__startswith=here))
    return [job for job in running if job.heartbeat_at < stale or not _alive(job.worker.removeprefix(here))]


def _alive(pid: str) -> bool:
    """Whether a process of this host runs under that id (an exited, unreaped one does not)."""
    if not pid.isdigit():
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state != "Z"


def recover_running(job: Job) -> str:
    """One running job whose worker is gone. Each branch first takes the job over with a
    conditional update on everything it saw — heartbeat, lease, attempts, provider job id — so only
    one sweep acts on it, and never on a job whose worker has just begun an attempt (each attempt
    bumps `attempts` and the heartbeat): that worker may be paying for it right now."""
    mine = Job.objects.filter(
        pk=job.pk,
        status=Status.RUNNING,
        heartbeat_at=job.heartbeat_at,
        started_at=job.started_at,
        attempts=job.attempts,
        provider_job_id=job.provider_job_id,
    )
    if job.attempts == 0:
        # Claimed, but the provider was never asked: nothing was bought, run it from the start. The
        # cleared start time voids the old worker's lease, should it still be alive.
        if mine.update(status=Status.QUEUED, started_at=None, heartbeat_at=None, worker=None):
            jobs.send_tasks(1, name=f"job-{job.pk}")
            return "requeued"
    elif job.provider_job_id and providers.can_resume(job.model.provider if job.model else ""):
        # Queued again with its provider job id: the next free worker collects the result (such
        # jobs go before any other) instead of buying it again.
        if mine.update(status=Status.QUEUED, started_at=None, heartbeat_at=None, worker=None):
            jobs.send_tasks(1, name=f"job-{job.pk}")
            return "reattached"
    elif mine.update(
        status=Status.FAILED,
        error_kind=ErrorKind.UNAVAILABLE.value,
        error_message=WORKER_LOST,
        finished_at=timezone.now(),
    ):
        return "lost"
    return "taken by another sweep"
