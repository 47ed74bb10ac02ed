"""What a studio job card shows: the job, its images (favourites marked for the viewer), its place
in the queue and its ETA — for any number of cards in a fixed number of queries."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from gallery.models import Favourite, Image
from studio import catalog, comparisons, queue
from studio.catalog import Operation
from studio.jobs import MIDJOURNEY_ACTIONS, job_collects
from studio.models import Job

PAGE = 12  # cards per page of the studio's job list
MAX_PLACEHOLDERS = 10
QUICK_ACTIONS = {"vary": (Operation.VARIATION, "Vary"), "upscale": (Operation.UPSCALE, "Upscale")}


def card_jobs(jobs: QuerySet[Job], *, viewer: AbstractBaseUser) -> list[Job]:
    images = Image.objects.order_by("index").annotate(
        is_favourite=Exists(Favourite.objects.filter(user=viewer, image=OuterRef("pk")))
    )
    # The job that took over this one's result to collect it: its Retry then buys anew (Run anew).
    collected_by = Job.objects.filter(collected_from=OuterRef("pk")).order_by("-pk").values("pk")[:1]
    jobs = jobs.annotate(collected_by=Subquery(collected_by))
    rows = list(jobs.prefetch_related(Prefetch("images", queryset=images)))
    queue.annotate(rows)
    for job in rows:
        job.placeholders = range(_placeholder_count(job.params))
        if job.status == Job.Status.SUCCEEDED:
            job.quick_actions = [
                (action, label)
                for action, (operation, label) in QUICK_ACTIONS.items()
                if catalog.default_model(operation, job.model_id)
            ]
            job.grid_actions = MIDJOURNEY_ACTIONS if isinstance(job.usage, dict) and job.usage.get("grid") else ()
        # Collect result and Run anew where the provider may still hold the paid result (the
        # runner's Job.result_held, which its message follows too); Run anew alone once another job
        # took it over; Retry otherwise.
        job.collects = job_collects(job)
    return rows


def _placeholder_count(params: object) -> int:
    """One placeholder per image asked for (a Midjourney grid is one); one for a damaged row."""
    n = params.get("n") if isinstance(params, dict) else None
    return max(1, min(n, MAX_PLACEHOLDERS)) if isinstance(n, int) else 1


def job_page(*, owner: AbstractBaseUser, before: int | None = None) -> tuple[list[Job], int | None]:
    """One page of the owner's jobs, newest first, older than job `before` (keyset, so a page
    stays right while new jobs arrive); and the id to ask for the next page with, if there is one.
    A blind comparison's columns show on its own page only, until the owner has voted on it."""
    jobs = Job.objects.filter(comparisons.visible_to(owner), owner=owner).order_by("-pk")
    if before is not None:
        jobs = jobs.filter(pk__lt=before)
    rows = card_jobs(jobs[: PAGE + 1], viewer=owner)
    return rows[:PAGE], rows[PAGE - 1].pk if len(rows) > PAGE else None
