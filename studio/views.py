"""Studio pages: the prompt form, job cards that poll, cancel, retry, and PNG settings import."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from gallery.models import Image
from studio import catalog, imaging, jobs, providers
from studio.forms import JobForm, initial_from_job
from studio.models import Job

HOME = "studio/home.html"
RECENT_JOBS = 12


def get_job_for_user(request: HttpRequest, pk: int) -> Job:
    """A job its owner (or staff) may act on; 404 for anyone else so ids do not leak."""
    job = get_object_or_404(Job.objects.prefetch_related(jobs.images_by_index()), pk=pk)
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


def _recent_jobs(request: HttpRequest) -> list[Job]:
    return list(Job.objects.filter(owner=request.user).prefetch_related(jobs.images_by_index())[:RECENT_JOBS])


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    if reuse := request.GET.get("reuse", "").strip():
        if not reuse.isdigit():
            messages.error(request, "That image link is not valid.")
        elif image := Image.objects.select_related("job").filter(pk=int(reuse)).first():
            job = image.job
            initial = initial_from_job(
                job.model_id, job.prompt, job.negative_prompt, {**job.params, "seed": image.seed}
            )
            messages.info(request, "Settings restored from the gallery image. Change anything, then generate.")
        else:
            messages.error(request, "That image no longer exists.")
    form = JobForm(initial=initial)
    return render(request, HOME, _form_context(form, jobs=_recent_jobs(request)))


@require_GET
def model_fields(request: HttpRequest) -> HttpResponse:
    """The model-specific part of the form, for the model just picked; keeps compatible values."""
    initial = {key: value for key, value in request.GET.items() if value != ""}
    form = JobForm(initial=initial)
    model = form.catalog_model
    if model and model.size(initial.get("size", "")) is None:
        aspect = catalog.aspect_of(initial.get("size", ""))
        form.initial["size"] = (model.size_for_aspect(aspect) or model.sizes[0]).value
    if model and initial.get("quality") not in model.qualities:
        form.initial["quality"] = model.default_quality
    return render(request, f"{HOME}#model_fields", _form_context(form))


@require_POST
def job_submit(request: HttpRequest) -> HttpResponse:
    form = JobForm(request.POST)
    job = jobs.queue_from_form(form, lambda: jobs.job_create(owner=request.user, spec=form.spec()))
    if job is None:
        if request.htmx:
            response = render(request, f"{HOME}#job_form", _form_context(form), status=422)
            return reswap(retarget(response, "#job-form"), "outerHTML")
        return render(request, HOME, _form_context(form, jobs=_recent_jobs(request)), status=422)
    if request.htmx:
        return render(request, f"{HOME}#new_job", {"job": job, **_form_context(JobForm(initial=request.POST.dict()))})
    messages.success(request, "Job queued.")
    return redirect("studio:home")


@require_GET
def job_card(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_job_for_user(request, pk)
    if request.htmx:
        return render(request, f"{HOME}#job_card", {"job": job})
    return render(request, "studio/job.html", {"job": job})


def _card_or_home(request: HttpRequest, job: Job) -> HttpResponse:
    if request.htmx:
        return render(request, f"{HOME}#job_card", {"job": job})
    return redirect("studio:home")


@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_job_for_user(request, pk)
    if not jobs.job_cancel(job=job):
        messages.warning(request, "That job had already finished.")
    return _card_or_home(request, job)


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_job_for_user(request, pk)
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELED):
        messages.warning(request, "Only failed or canceled jobs can be retried.")
        return _card_or_home(request, job)
    try:
        return _card_or_home(request, jobs.job_retry(job=job, owner=request.user))
    except jobs.BudgetExceeded as exc:
        messages.error(request, str(exc))
        return _card_or_home(request, job)


@require_POST
def settings_import(request: HttpRequest) -> HttpResponse:
    """Read the settings embedded in a PNG made by Atelier and put them back into the form."""
    upload = request.FILES.get("image")
    error = ""
    initial: dict[str, Any] = {}
    if upload is None:
        error = "Choose a PNG made by Atelier to restore its settings."
    else:
        try:
            metadata = imaging.read_png_metadata(upload.read(settings.UPLOAD_MAX_BYTES + 1))
        except imaging.ImageRejected as exc:
            error = str(exc)
        else:
            if metadata is None:
                error = "This image carries no Atelier settings. Only PNGs saved by Atelier can be imported."
            else:
                initial = initial_from_job(
                    str(metadata.get("model", "")),
                    str(metadata.get("prompt", "")),
                    str(metadata.get("negative_prompt", "")),
                    metadata,
                )
    form = JobForm(initial=initial)
    context = _form_context(form, import_error=error, imported=bool(initial))
    status = 400 if error else 200
    if request.htmx:
        return reswap(retarget(render(request, f"{HOME}#job_form", context, status=status), "#job-form"), "outerHTML")
    return render(request, HOME, {**context, "jobs": _recent_jobs(request)}, status=status)


@require_POST
def midjourney_action(request: HttpRequest, image_pk: int) -> HttpResponse:
    """Run U1-U4 or V1-V4 on the Midjourney grid this image belongs to."""
    image = get_object_or_404(Image.objects.select_related("job"), pk=image_pk)
    try:
        job = jobs.job_create_followup(owner=request.user, image=image, action=request.POST.get("action", ""))
    except (jobs.NotAGrid, jobs.BudgetExceeded) as exc:
        messages.error(request, str(exc))
        return redirect("gallery:detail", pk=image_pk)
    return redirect("studio:job", pk=job.pk)


@require_GET
def providers_page(request: HttpRequest) -> HttpResponse:
    """Which providers are configured (by variable name, never value), checked on load."""
    rows = []
    for provider in catalog.PROVIDERS.values():
        configured = settings.PROVIDER_SETTINGS.get(provider.id, {})
        missing = [env for key, env in provider.required if not configured.get(key)]
        models = [m for m in catalog.MODELS.values() if m.provider == provider.id]
        rows.append(
            {"provider": provider, "missing": missing, "models": models, "base_url": configured.get("base_url", "")}
        )
    return render(request, "studio/providers.html", {"rows": rows})


@require_GET
def provider_check(request: HttpRequest, provider_id: str) -> HttpResponse:
    if provider_id not in catalog.PROVIDERS:
        raise Http404
    result = providers.get_provider(provider_id).check()
    return render(request, "studio/providers.html#check", {"check": result})
