"""Where unfinished jobs stand: their place in the queue, and an ETA from recent runs of their model."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from studio.models import Job

RECENT_RUNS = 20  # how many finished runs of a model its typical duration is taken from


def positions(queued: Iterable[tuple[int, datetime]]) -> dict[int, int]:
    """Each queued job's place in the whole queue (1 = next), in one query: workers take jobs
    in the order they were queued."""
    counts = {f"ahead_{pk}": Count("pk", filter=Q(queued_at__lt=at) | Q(queued_at=at, pk__lt=pk)) for pk, at in queued}
    if not counts:
        return {}
    ahead = Job.objects.filter(status=Job.Status.QUEUED).aggregate(**counts)
    return {int(name.removeprefix("ahead_")): value + 1 for name, value in ahead.items()}


def typical_seconds(model_ids: Iterable[str]) -> dict[str, float]:
    """The median run time of each model's last RECENT_RUNS successful jobs, in one query (one
    indexed top-N per model, so it stays quick however many jobs there are)."""
    latest = Q()
    for model_id in set(model_ids):
        top = Job.objects.filter(model_id=model_id, status=Job.Status.SUCCEEDED, finished_at__isnull=False)
        latest |= Q(pk__in=top.exclude(started_at=None).order_by("-finished_at").values("pk")[:RECENT_RUNS])
    if not latest:
        return {}
    durations: dict[str, list[float]] = {}
    for model_id, started, finished in Job.objects.filter(latest).values_list("model_id", "started_at", "finished_at"):
        durations.setdefault(model_id, []).append((finished - started).total_seconds())
    return {model_id: statistics.median(seconds) for model_id, seconds in durations.items()}


def annotate(jobs: Iterable[Job]) -> None:
    """Set `queue_position` on queued jobs and `eta_seconds` (until its images are in, when the
    model has run here before) on queued and running ones. Two queries, whatever the count."""
    waiting = [job for job in jobs if job.status in (Job.Status.QUEUED, Job.Status.RUNNING)]
    if not waiting:
        return
    place = positions((job.pk, job.queued_at) for job in waiting if job.status == Job.Status.QUEUED)
    typical = typical_seconds(job.model_id for job in waiting)
    workers = max(1, settings.Q_CLUSTER["workers"])
    now = timezone.now()
    for job in waiting:
        run = typical.get(job.model_id)
        if job.status == Job.Status.QUEUED:
            job.queue_position = place.get(job.pk)
            # The jobs ahead share the workers; each is taken to last as long as this model's runs.
            rounds = ((job.queue_position or 1) - 1) // workers + 1
            job.eta_seconds = rounds * run if run is not None else None
        else:
            job.eta_seconds = max(0.0, run - (now - job.started_at).total_seconds()) if run and job.started_at else None
