"""Studio pages: the prompt form, the job list, cancel, retry, prompt history and settings import from images."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from gallery.models import Image
from studio import cards, catalog, comparisons, imaging, jobs, live, params, prompts, specs
from studio.forms import JobForm, initial_from_job, initial_from_settings, queue
from studio.metadata import reader, restore
from studio.models import Job

HOME = "studio/home.html"


def get_job_for_user(request: HttpRequest, pk: int) -> Job:
    """A job its owner (or staff) may act on; 404 for anyone else so ids do not leak, and for a
    blind comparison's column until this person has voted on it (the comparison page shows it)."""
    job = get_object_or_404(Job.objects.filter(comparisons.visible_to(request.user)), pk=pk)
    if job.owner_id != request.user.pk and not request.user.is_staff:
        raise Http404
    return job


def model_groups() -> list[tuple[str, list[tuple[catalog.Model, catalog.Availability]]]]:
    groups: dict[str, list[tuple[catalog.Model, catalog.Availability]]] = {}
    for model in catalog.models_for(catalog.Operation.GENERATE):  # edit-only models live in the editor
        label = catalog.PROVIDERS[model.provider].label
        groups.setdefault(label, []).append((model, catalog.availability(model)))
    return list(groups.items())


def _form_context(form: JobForm, **extra: Any) -> dict[str, Any]:
    return {"form": form, "model_groups": model_groups(), "model": form.catalog_model, **extra}


def _job_list(request: HttpRequest) -> dict[str, Any]:
    """The newest page of the user's jobs (or the page before `?before=`), for the whole page."""
    before = params.object_id(request.GET.get("before", ""))
    rows, older = cards.job_page(owner=request.user, before=before)
    newest = rows[0] if rows and before is None else None
    return {"jobs": rows, "older": older, "page": live.page_token(), "last_prompt": newest and newest.prompt}


def card_response(request: HttpRequest, job: Job, **extra: Any) -> HttpResponse:
    """The job's card, redrawn with its images, queue place and ETA."""
    (job,) = cards.card_jobs(Job.objects.filter(pk=job.pk), viewer=request.user)
    return render(request, f"{HOME}#job_card", {"job": job, **extra})


def new_card_response(request: HttpRequest, job: Job, template: str = f"{HOME}#job_card", **extra: Any) -> HttpResponse:
    """A new job's card, with a fresh live-update poll that watches it too (it supersedes the
    page's running poll, which then ends: studio.live)."""
    (job,) = cards.card_jobs(Job.objects.filter(pk=job.pk), viewer=request.user)
    page = live.parse((), request.POST.get("page", "")).page or live.page_token()
    context = {"job": job, "restart_live": True, "page": page, **extra}
    return render(request, template, context)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    if reuse := request.GET.get("reuse", "").strip():
        if (image_id := params.object_id(reuse)) is None:
            messages.error(request, "That image link is not valid.")
        elif image := Image.objects.select_related("job").filter(pk=image_id).first():
            try:
                initial = initial_from_job(image.job, seed=image.seed)
            except specs.Invalid as exc:
                messages.error(request, f"That image's settings cannot be restored: {exc}")
            else:
                messages.info(request, "Settings restored from the gallery image. Change anything, then generate.")
        else:
            messages.error(request, "That image no longer exists.")
    form = JobForm(initial=initial)
    if job_id := request.GET.get("job", "").strip():
        form = _form_for_job(request, job_id) or form
    return render(request, HOME, _form_context(form, **_job_list(request)))


def _form_for_job(request: HttpRequest, job_id: str) -> JobForm | None:
    """Edit and retry: the job's settings in the form, checked, so what no longer holds is marked."""
    job = Job.objects.filter(pk=params.object_id(job_id) or 0).first()
    if job is None or (job.owner_id != request.user.pk and not request.user.is_staff):
        messages.error(request, "That job no longer exists.")
        return None
    try:
        form = JobForm(initial_from_job(job))
    except specs.Invalid as exc:
        # Its model is gone or its settings cannot be read: what its columns hold, and why not the rest.
        form = JobForm({"model": job.model_id, "prompt": job.prompt, "negative_prompt": job.negative_prompt})
        messages.warning(request, f"Only the prompt could be restored: {exc}")
        return form
    if form.is_valid():
        messages.info(request, "Settings from the job. Change anything, then generate.")
    else:
        messages.warning(request, "Settings from the job. What no longer holds is marked: fix it, then generate.")
    return form


@require_GET
def model_fields(request: HttpRequest) -> HttpResponse:
    """The model-specific part of the form, for the model just picked; keeps compatible values."""
    initial = {key: value for key, value in request.GET.items() if value != ""}
    form = JobForm(initial=initial)
    model = form.catalog_model
    if model and model.size(initial.get("size", "")) is None:
        # Keep the shape the user had picked: the new model's preset closest to it.
        w, h = specs.parse_size(initial.get("size", "")) or (1, 1)
        form.initial["size"] = model.nearest_size(w / h).value
    if model and initial.get("quality") not in model.qualities:
        form.initial["quality"] = model.default_quality
    return render(request, f"{HOME}#model_fields", _form_context(form))


@require_POST
def job_submit(request: HttpRequest) -> HttpResponse:
    form = JobForm(request.POST)
    job = queue(form, lambda: jobs.job_create(owner=request.user, request=form.request))
    if job is None:
        if request.htmx:
            response = render(request, f"{HOME}#job_form", _form_context(form), status=form.status_code)
            return reswap(retarget(response, "#job-form"), "outerHTML")
        return render(request, HOME, _form_context(form, **_job_list(request)), status=form.status_code)
    if request.htmx:
        return new_card_response(request, job, f"{HOME}#new_job", **_form_context(JobForm(initial=request.POST.dict())))
    messages.success(request, "Job queued.")
    return redirect("studio:home")


@require_GET
def job_card(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_job_for_user(request, pk)
    if request.htmx:
        return card_response(request, job)
    (job,) = cards.card_jobs(Job.objects.filter(pk=job.pk), viewer=request.user)
    return render(request, "studio/job.html", {"job": job, "page": live.page_token()})


def _card_or_home(request: HttpRequest, job: Job, **extra: Any) -> HttpResponse:
    if request.htmx:
        return card_response(request, job, **extra)
    return redirect("studio:home")


@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_job_for_user(request, pk)
    if not jobs.job_cancel(job=job):
        messages.warning(request, "That job had already finished.")
    return _card_or_home(request, job)


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Retry a failed or canceled job: Collect result (`collect=1`) collects the result the provider
    may still hold, Run anew (`fresh=1`) buys it again, Retry does what the job allows (studio.jobs
    .job_retry). A refusal is shown on the card."""
    job = get_job_for_user(request, pk)
    ask = {name: request.POST.get(name) == "1" for name in ("fresh", "collect")}
    try:
        retry = jobs.job_retry(job=job, by=request.user, **ask)
    except (jobs.NotRetryable, jobs.JobRefused) as exc:
        reason = str(exc)
    except specs.Invalid as exc:
        reason = f"It cannot run again as it was: {exc} Use Edit and retry to change it."
    else:
        return new_card_response(request, retry) if request.htmx else redirect("studio:home")
    if not request.htmx:
        messages.error(request, reason)
    return _card_or_home(request, job, retry_error=reason)


@require_GET
def prompt_history(request: HttpRequest) -> HttpResponse:
    """The user's recent prompts, newest first, those containing `q` when it is given."""
    found = prompts.recent(owner=request.user, containing=request.GET.get("q", ""))
    return render(request, f"{HOME}#prompt_history", {"prompts": found, "query": request.GET.get("q", "")})


@require_POST
def settings_import(request: HttpRequest) -> HttpResponse:
    """Read the settings embedded in an image (Atelier's, A1111's, ComfyUI's, InvokeAI's) and put
    what the chosen model takes back into the form, saying what could not be restored."""
    upload = request.FILES.get("image")
    error = ""
    restored = None
    if upload is None:
        error = "Choose an image (PNG, JPEG or WebP) to restore its settings."
    else:
        try:
            found = reader.read(upload.read(settings.UPLOAD_MAX_BYTES + 1))
        except imaging.ImageRejected as exc:
            error = str(exc)
        else:
            if found is None:
                error = (
                    "This image carries no settings Atelier can read: it reads its own files, and "
                    "AUTOMATIC1111, ComfyUI and InvokeAI PNGs."
                )
            else:
                restored = restore.onto(found, request.POST.get("model", ""))
    initial = (
        initial_from_settings(restored.model.id, restored.prompt, restored.negative_prompt, restored.params)
        if restored
        else {}
    )
    context = _form_context(JobForm(initial=initial), import_error=error, imported=restored)
    status = 400 if error else 200
    if request.htmx:
        return reswap(retarget(render(request, f"{HOME}#job_form", context, status=status), "#job-form"), "outerHTML")
    return render(request, HOME, {**context, **_job_list(request)}, status=status)


@require_POST
def midjourney_action(request: HttpRequest, image_pk: int) -> HttpResponse:
    """Run U1-U4 or V1-V4 on the Midjourney grid this image belongs to."""
    image = get_object_or_404(Image.objects.select_related("job"), pk=image_pk)
    try:
        job = jobs.job_create_followup(owner=request.user, image=image, action=request.POST.get("action", ""))
    except (jobs.NotAGrid, jobs.JobRefused, specs.Invalid) as exc:
        if request.htmx:
            return refusal(str(exc))
        messages.error(request, str(exc))
        return redirect("gallery:detail", pk=image_pk)
    if request.htmx:
        return new_card_response(request, job)
    return redirect("studio:job", pk=job.pk)


def refusal(message: str) -> HttpResponse:
    """For htmx: the reason an action on a card was refused, shown with the page's messages."""
    response = HttpResponse(f'<p class="message error" role="alert">{escape(message)}</p>', status=422)
    return reswap(retarget(response, "#messages"), "innerHTML")


@require_GET
def job_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The provider's latest look at a running job's image (not a result: it goes when the job ends)."""
    job = get_job_for_user(request, pk)
    if not job.preview:
        raise Http404
    response = FileResponse(default_storage.open(job.preview), content_type="image/webp")
    # Each preview has its own name, and the card asks for it by that name.
    response["Cache-Control"] = "private, max-age=3600, immutable"
    return response
