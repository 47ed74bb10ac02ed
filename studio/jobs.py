"""Services for jobs: submit, cancel, retry, and record a provider's result."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Min, Prefetch, Q, Sum
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task

from gallery.models import Image
from studio import catalog, imaging, media, pricing, providers, specs, worker
from studio.editing import PreparedEdit
from studio.models import Budget, Comparison, Job
from studio.providers.base import ErrorKind, ProviderResult
from studio.specs import ImageRequest

log = logging.getLogger(__name__)
Status = Job.Status


ACTIVE = (Status.QUEUED, Status.RUNNING)


@functools.cache
def broker():
    """This process's broker connection (django-q2 would open one per task sent)."""
    return get_broker()


def send_tasks(count: int, *, name: str = "job") -> None:
    """Put `count` tasks on the queue. A task runs the fairest queued job (`job_claim_next`), not a
    given one, so a task sent twice, or lost with a worker and sent again, is harmless."""
    for _ in range(count):
        async_task("studio.tasks.run_next", task_name=name, broker=broker())


def _send_after_commit(job_id: int) -> None:
    try:
        send_tasks(1, name=f"job-{job_id}")
    except Exception:
        # The broker failed between the check in _create and now: the job is queued and the
        # recovery sweep sends its task once the broker answers again.
        log.exception("job %s: could not send its task; the recovery sweep will", job_id)


def _enqueue(job: Job) -> None:
    job_id = job.pk
    transaction.on_commit(lambda: _send_after_commit(job_id))


class JobRefused(Exception):
    """The job cannot be queued; the message says why. `status` is the HTTP answer where the
    reason has one of its own; otherwise each caller answers with its usual refusal."""

    status: int | None = None
    kind = "refused"


class QueueUnavailable(JobRefused):
    """The broker does not answer: nothing was queued or charged."""

    status = 503
    kind = "queue_unavailable"


class TooManyJobs(JobRefused):
    """The owner already has as many queued and running jobs as one user may."""

    status = 429
    kind = "too_many_jobs"


class BudgetExceeded(JobRefused):
    """Queuing the job would take its owner past their monthly budget; the message says by how much."""

    kind = "budget_exceeded"


def check_queue() -> None:
    """Refuse to create a job the queue could not take (Redis down): the user is told at once,
    and no row is left to count against their budget or cap."""
    try:
        broker().ping()
    except Exception as exc:
        log.warning("the job queue does not answer: %s", exc)
        raise QueueUnavailable(
            "The job queue is not answering right now, so nothing was queued or charged. Try again in a minute."
        ) from None


def check_active_jobs(owner: AbstractBaseUser) -> None:
    """Raise TooManyJobs at the per-user cap. It locks the owner's row first (inside the
    transaction that creates the job), so two submissions at once cannot both slip under it."""
    list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk", flat=True))
    active = Job.objects.filter(owner=owner, status__in=ACTIVE).count()
    if active >= settings.JOB_USER_MAX_ACTIVE:
        raise TooManyJobs(
            f"You already have {active} jobs queued or running, the most one person may have at once. "
            "Wait for some to finish (or cancel some), then try again."
        )


def month_start() -> datetime:
    return timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# Jobs whose cost is recorded: those that succeeded, and those whose result storage refused. (A
# collection of a result another job recorded the cost of records 0: job_succeed.)
PAID = Q(status=Status.SUCCEEDED) | Q(status=Status.FAILED, error_kind=ErrorKind.STORAGE.value)
# Jobs counted at their estimate until they record a cost: those queued or running; those canceled
# after their provider was asked (it bills a call it has begun), so canceling running jobs is no
# way past a budget; and failures whose paid result the provider may still hold (until it is
# handed over to the job that collects it), so Run anew after a timeout is no way past one either.
# Not a collection of a result whose cost is recorded already (on the job it collects from).
ESTIMATED = (
    (Q(status__in=ACTIVE) | Q(status=Status.CANCELED, attempts__gt=0) | Q(result_held=True))
    & Q(cost__isnull=True)
    & Q(collected_from__cost__isnull=True)
)


def month_spend(owner: AbstractBaseUser) -> Decimal:
    """What the owner's jobs cost this month: recorded costs (PAID), plus estimates (ESTIMATED)."""
    jobs = Job.objects.filter(owner=owner, queued_at__gte=month_start())
    spent = jobs.filter(PAID).aggregate(total=Sum("cost"))["total"] or Decimal(0)
    pending = jobs.filter(ESTIMATED).values_list("model_id", "operation", "params")
    return spent + sum((pricing.estimate(*job) or Decimal(0) for job in pending), Decimal(0))


def check_budget(owner: AbstractBaseUser, model_id: str, operation: str, params: dict) -> None:
    """Raise BudgetExceeded if this job would take the owner past their monthly budget, or if its
    cost cannot be known while a budget is set.

    Called inside the transaction that creates the job, with the budget row locked, so two
    submissions at once cannot both slip under the limit."""
    budget = Budget.objects.select_for_update().filter(user=owner).first()
    if budget is None:
        return
    cost = pricing.estimate(model_id, operation, params)
    if cost is None:
        model = catalog.get_model(model_id)
        raise BudgetExceeded(
            f"{model.label if model else model_id} has no known price yet, so it cannot be checked against your "
            "budget. Pick a priced model, or ask an admin to remove your budget."
        )
    spent = month_spend(owner)
    if spent + cost > budget.monthly_usd:
        left = max(Decimal(0), budget.monthly_usd - spent)
        raise BudgetExceeded(
            f"This job would cost ${cost:.3f}, but only ${left:.2f} is left of your ${budget.monthly_usd:.2f} "
            f"budget for {timezone.localtime():%B}. Ask an admin to raise it, or pick a cheaper model."
        )


def images_by_index() -> Prefetch:
    """A job's images in the order the provider gave them (a Midjourney grid before its parts)."""
    return Prefetch("images", queryset=Image.objects.order_by("index"))


def _create(owner: AbstractBaseUser, request: ImageRequest, *, enqueue: bool = True, **fields: Any) -> Job:
    """The job row for a validated request, its budget checked under the budget's row lock."""
    columns = specs.job_fields(request, fields.pop("notes", ()))
    if enqueue:
        check_queue()
    check_active_jobs(owner)
    check_budget(owner, request.model.id, columns["operation"], columns["params"])
    job = Job.objects.create(owner=owner, **columns, **fields)
    if enqueue:
        _enqueue(job)
    return job


@transaction.atomic
def job_create(
    *,
    owner: AbstractBaseUser,
    request: ImageRequest,
    comparison: Comparison | None = None,
    column: int = 0,
    notes: tuple[str, ...] = (),
    enqueue: bool = True,
) -> Job:
    """A queued job for the request; it runs once the transaction commits (`enqueue=False` leaves
    running it to the caller: the CLI's --inline)."""
    return _create(owner, request, enqueue=enqueue, comparison=comparison, column=column, notes=notes)


def job_create_edit(*, owner: AbstractBaseUser, edit: PreparedEdit) -> Job:
    """Store the edit's input pixels and mask, then queue the job; the files go if the row does not.
    media.StorageFailure when storage refuses them."""
    written: list[str] = []

    def store(folder: str, data: bytes) -> str:
        written.append(media.store(folder, "png", data))
        return written[-1]

    try:
        source = store("inputs", imaging.png_bytes(edit.canvas))
        mask = store("masks", imaging.png_bytes(edit.mask)) if edit.mask is not None else ""
        references = tuple(store("inputs", data) for data in edit.references)
        request = replace(edit.request, inputs=specs.Inputs(source, mask, references))
        with transaction.atomic():
            return _create(owner, request, source_image=edit.source_image)
    except BaseException:
        media.discard(written)
        raise


MIDJOURNEY_ACTIONS = tuple(f"{kind}{n}" for kind in "UV" for n in range(1, 5))


class NotAGrid(Exception):
    """The job has no Midjourney grid to act on."""


@transaction.atomic
def job_create_followup(*, owner: AbstractBaseUser, image: Image, action: str) -> Job:
    """U1-U4 (upscale a quadrant) or V1-V4 (vary it) on a Midjourney grid, as a new job."""
    parent = image.job
    if action not in MIDJOURNEY_ACTIONS or not parent.usage.get("grid") or not parent.usage.get("task_id"):
        raise NotAGrid(f"{action} works only on a Midjourney grid.")
    specs.get_model(parent.model_id)  # still available here
    request = replace(
        specs.from_job(parent),
        operation=catalog.Operation.UPSCALE if action.startswith("U") else catalog.Operation.VARIATION,
        n=1,
        followup=specs.Followup(parent.usage["task_id"], action, tuple(parent.usage.get("buttons") or ())),
    )
    specs.validate(request)
    return _create(owner, request, source_image=image)


def job_cancel(*, job: Job) -> bool:
    """Cancel a queued or running job; a running one's result is discarded when it arrives. A
    collection bought nothing, and its result was paid for: it stays held, for Collect result
    again (the worker stops waiting, and leaves the provider-side job alone: studio.tasks)."""
    changed = Job.objects.filter(pk=job.pk, status__in=ACTIVE).update(
        status=Status.CANCELED,
        finished_at=timezone.now(),
        error_message="Canceled by the user.",
        result_held=job.collected_from_id is not None and bool(job.provider_job_id),
    )
    job.refresh_from_db()
    return changed == 1


class NotRetryable(Exception):
    """The job cannot be retried that way; the message says why (the API's error kind: `kind`)."""

    kind = "not_retryable"


class ResultHandedOver(NotRetryable):
    """Another job collects (or collected) this job's result: a retry without `fresh` would buy it
    a second time, so it is refused (a second click on Collect result, a stale card, a re-POST)."""

    kind = "result_handed_over"


class NothingToCollect(NotRetryable):
    """Collect result was asked for, but the provider holds no result of this job to collect."""

    kind = "nothing_to_collect"


# How the runner fails a job whose provider-side job ended as canceled (studio.tasks): nothing to collect.
PROVIDER_STOPPED = "The provider stopped this job before it finished."
# What a failure that may have been paid for says Retry does, from Job.result_held, as the card's
# buttons read it: Collect result and Run anew where the result is held, Retry otherwise.
COLLECT_ADVICE = "Collect result fetches it, if it was made, without paying again; Run anew pays again."
ANEW_ADVICE = "Retry runs it anew and pays again."
RUN_ANEW = "Run anew pays again."


def retry_advice(*, held: bool) -> str:
    return COLLECT_ADVICE if held else ANEW_ADVICE


def job_collects(job: Job) -> bool:
    """Whether Retry collects the job's result from its provider-side job (a Replicate prediction,
    a Stability creative upscale, a midjourney-proxy task) instead of buying it again: the runner
    recorded that the provider may still hold it (Job.result_held), and it was not handed over."""
    model = catalog.get_model(job.model_id)
    return (
        job.status in (Status.FAILED, Status.CANCELED)
        and job.result_held
        and bool(job.provider_job_id)
        and model is not None
        and providers.can_resume(model.provider)
    )


def collector(job: Job) -> Job | None:
    """The job that has this job's result now: the one it was handed over to, or the one that one
    handed it on to, and so on; None if it was never handed over."""
    found = None
    while (later := Job.objects.filter(collected_from=job).order_by("-pk").first()) is not None:
        found = job = later
    return found


def handed_over_message(job: Job, holder: Job) -> str:
    """Why a retry of `job` without `fresh` is refused: which job has its result, and how it is."""
    if holder.status in ACTIVE:
        state = f"Job {holder.pk} is collecting this result"
    elif holder.status == Status.SUCCEEDED:
        state = f"Job {holder.pk} collected this result"
    elif job_collects(holder):
        state = f"Job {holder.pk} holds this result now; Collect result there fetches it"
    else:
        state = f"Job {holder.pk} tried to collect this result and ended without it (its card says why)"
    return f"{state}. {RUN_ANEW}"


@transaction.atomic
def job_retry(*, job: Job, by: AbstractBaseUser, fresh: bool = False, collect: bool = False) -> Job:
    """Run a failed or canceled job again, as a new job with the same settings.

    Where the provider may still hold the paid result (`job_collects`), the new job collects it:
    it takes over the provider-side job (`collected_from`), the worker polls only, and it is the
    job's owner's (the result is theirs, whoever clicked), past their budget and active-job cap
    (nothing is bought), whatever today's catalog says of its settings (they were bought already).
    `collect` asks for that and is refused (NothingToCollect) where nothing can be collected.
    Otherwise the new job is a new purchase by `by`, checked against today's catalog (specs.Invalid
    says which setting no longer holds); one whose result was handed over to another job is
    refused (ResultHandedOver) unless `fresh` says to buy again."""
    if job.status not in (Status.FAILED, Status.CANCELED):
        raise NotRetryable("Only failed or canceled jobs can be retried.")
    if fresh and collect:
        raise NotRetryable("Collect result or Run anew: one of the two.")
    request = specs.from_job(job)
    specs.get_model(request.model.id)  # still available here
    if not fresh:
        if job_collects(job):
            return _collect(job, request)
        if (holder := collector(job)) is not None:
            raise ResultHandedOver(handed_over_message(job, holder))
        if collect:
            raise NothingToCollect(
                f"The provider holds no result of this job to collect: it ended it, or was never paid. {ANEW_ADVICE}"
            )
    specs.validate(request)  # a new purchase, by today's rules
    notes = tuple(job.params.get("notes") or ())
    return _create(by, request, source_image=job.source_image, notes=notes)


def _collect(job: Job, request: ImageRequest) -> Job:
    """The job that collects `job`'s held result (inside job_retry's transaction)."""
    check_queue()
    # The hand-over: of two retries at once (two clicks, two tabs) one takes the result, and the
    # other is told which job has it.
    if not Job.objects.filter(pk=job.pk, result_held=True).update(result_held=False):
        holder = collector(job)
        raise ResultHandedOver(
            handed_over_message(job, holder) if holder else "Another retry is already collecting this job's result."
        )
    columns = specs.job_fields(request, tuple(job.params.get("notes") or ()))
    collecting = Job.objects.create(
        owner_id=job.owner_id,
        **columns,
        source_image=job.source_image,
        provider_job_id=job.provider_job_id,
        collected_from=job,
    )
    _enqueue(collecting)
    return collecting


def job_start(job_id: int) -> datetime | None:
    """Claim a queued job for this worker. Returns its start time, the lease later writes are
    checked against (a job sent back to the queue gets a new one); None if it is gone or taken."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker.worker_id()
    )
    return now if claimed == 1 else None


# Claims lost to other workers before giving up (the task is then a no-op; the job keeps its own).
CLAIM_TRIES = 10


def job_claim_next() -> tuple[int, datetime] | None:
    """Claim the next queued job. First one a dead worker had already bought at the provider (its
    result only waits to be collected); then the fairest: of the owners with jobs waiting, the
    one with the fewest jobs running (then the longest wait) gets the worker, and within an owner
    the oldest job goes first. One user's burst cannot hold every worker while another waits."""
    for _ in range(CLAIM_TRIES):
        job_id = _fairest_queued()
        if job_id is None:
            return None
        if (lease := job_start(job_id)) is not None:
            return job_id, lease
    return None


def _fairest_queued() -> int | None:
    queued = Job.objects.filter(status=Status.QUEUED)
    if bought := queued.exclude(provider_job_id="").order_by("queued_at").values_list("pk", flat=True).first():
        return bought
    waiting = list(
        Job.objects.filter(status=Status.QUEUED).order_by().values("owner_id").annotate(first=Min("queued_at"))
    )
    if not waiting:
        return None
    running = dict(
        Job.objects.filter(status=Status.RUNNING)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    owner = min(waiting, key=lambda w: (running.get(w["owner_id"], 0), w["first"]))["owner_id"]
    queued = Job.objects.filter(status=Status.QUEUED, owner_id=owner).order_by("queued_at", "id")
    return queued.values_list("pk", flat=True).first()


def job_fail(job_id: int, kind: ErrorKind, message: str, *, result_held: bool = False) -> None:
    Job.objects.filter(pk=job_id, status=Status.RUNNING).update(
        status=Status.FAILED,
        error_kind=kind.value,
        error_message=message,
        finished_at=timezone.now(),
        result_held=result_held,
    )


def paid_on(job: Job) -> int | None:
    """The job whose recorded cost covers this collection's result (it failed to store it), if
    any: the collection then costs nothing more."""
    if job.collected_from_id is None:
        return None
    recorded = Job.objects.filter(pk=job.collected_from_id, cost__isnull=False).exists()
    return job.collected_from_id if recorded else None


def _cost(job: Job, result: ProviderResult) -> tuple[Decimal | None, dict]:
    """What the job cost, and its usage: 0 for a result another job's cost covers (said in usage)."""
    if (payer := paid_on(job)) is not None:
        return Decimal(0), {**result.usage, "paid_on_job": payer}
    cost = pricing.job_cost(
        job.model_id, job.operation, job.params, images=len(result.images), provider_cost=result.cost
    )
    return cost, result.usage


def _metadata(job: Job, seed: int | None, revised_prompt: str) -> dict:
    request = specs.from_job(job)
    return {
        "app": "Atelier",
        "model": job.model_id,
        "operation": job.operation,
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "revised_prompt": revised_prompt,
        "width": request.size.width,
        "height": request.size.height,
        "quality": request.quality,
        "seed": seed,
        "options": dict(request.options),
        "strength": request.edit.strength,  # image-to-image
        "parent_image": job.source_image_id,
    }


def job_succeed(job: Job, result: ProviderResult) -> list[Image]:
    """Write the files first, then record rows in one transaction; clean up on any failure."""
    written: list[str] = []
    try:
        rows = []
        for index, generated in enumerate(result.images):
            processed = imaging.process(generated.data, _metadata(job, generated.seed, generated.revised_prompt))
            name = media.store("images", processed.extension, processed.data)
            written.append(name)
            thumb = media.store("thumbs", "webp", processed.thumbnail)
            written.append(thumb)
            rows.append(
                Image(
                    job=job,
                    owner_id=job.owner_id,
                    index=index,
                    file=name,
                    thumbnail=thumb,
                    width=processed.width,
                    height=processed.height,
                    seed=generated.seed,
                    revised_prompt=generated.revised_prompt,
                    content_hash=processed.sha256,
                )
            )
        cost, usage = _cost(job, result)
        with transaction.atomic():
            updated = Job.objects.filter(pk=job.pk, status=Status.RUNNING).update(
                status=Status.SUCCEEDED,
                finished_at=timezone.now(),
                provider_job_id=result.provider_job_id,
                usage=usage,
                cost=cost,
            )
            if updated != 1:
                raise JobNoLongerRunning(job.pk)
            return Image.objects.bulk_create(rows)
    except media.StorageFailure as exc:
        media.discard(written)
        _fail_unstored(job, result, exc)
        raise ResultNotStored(job.pk) from exc
    except BaseException:
        media.discard(written)
        raise


class JobNoLongerRunning(Exception):
    """The job was canceled or reaped while the provider worked; its result is discarded."""


class ResultNotStored(Exception):
    """The provider made the images, but media storage refused them; the job says so."""


def _fail_unstored(job: Job, result: ProviderResult, failure: media.StorageFailure) -> None:
    """Fail the job with the storage's reason. The provider was paid, so the job keeps what it
    cost (budgets count it), its usage and the provider's job id; where the provider can be asked
    for it again (a Replicate prediction, a midjourney-proxy task), the result is held for Collect
    result, which then costs nothing more (job_succeed)."""
    what = "image" if len(result.images) == 1 else f"{len(result.images)} images"
    remedy = "free some space" if failure.full else "make it writable"
    model = catalog.get_model(job.model_id)
    held = bool(result.provider_job_id) and model is not None and providers.can_resume(model.provider)
    then = (
        "Collect result then fetches it again without paying again (while the provider keeps it: Replicate "
        "about an hour); Run anew pays again."
        if held
        else "Retry then runs the job anew and is charged again."
    )
    cost, usage = _cost(job, result)
    Job.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.FAILED,
        error_kind=ErrorKind.STORAGE.value,
        error_message=(
            f"The provider made the {what} and was paid, but Atelier could not store the result: {failure.reason}. "
            f"Ask an admin to {remedy}. {then}"
        ),
        finished_at=timezone.now(),
        provider_job_id=result.provider_job_id,
        usage=usage,
        cost=cost,
        result_held=held,
    )


def preview_store(job_id: int, data: bytes) -> None:
    """Keep the provider's latest look at a running job's image (a small WebP) in place of the last
    one. A preview that cannot be read is skipped: it is not the result, and the job goes on."""
    try:
        preview = imaging.thumbnail(imaging.decode(data, max_bytes=settings.DOWNLOAD_MAX_BYTES))
    except imaging.ImageRejected as exc:
        log.info("job %s: preview skipped (%s)", job_id, exc)
        return
    try:
        name = media.store("previews", "webp", preview)
    except media.StorageFailure as exc:
        log.warning("job %s: preview not stored (%s)", job_id, exc.reason)
        return
    old = Job.objects.filter(pk=job_id).values_list("preview", flat=True).first()
    if Job.objects.filter(pk=job_id, status=Status.RUNNING).update(preview=name) != 1:
        old = name  # finished meanwhile: nobody will look at it
    if old:
        media.discard([old])


@contextmanager
def previews_cleared(job_id: int) -> Iterator[None]:
    """Previews are for while a job runs: whatever way it ends, its preview goes."""
    try:
        yield
    finally:
        if name := Job.objects.filter(pk=job_id).values_list("preview", flat=True).first():
            Job.objects.filter(pk=job_id, preview=name).update(preview=None)
            media.discard([name])
