"""The image editor: inpaint, outpaint, remix, vary and upscale a gallery image or an upload."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from gallery.models import Image, url_patterns
from studio import catalog, imaging, jobs, params, specs
from studio.forms import EDIT_OPERATIONS, EditForm, edit_initial_from_request, queue
from studio.models import Job
from studio.views.studio import new_card_response

EDITOR = "studio/editor.html"
OUTPAINT_ASPECTS = ("1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "21:9")


def _context(form: EditForm, **extra: Any) -> dict[str, Any]:
    operation = form["operation"].value() or "edit"
    model = form.catalog_model
    try:
        negative_prompt = bool(model) and model.takes_negative_prompt(catalog.Operation(operation))
    except ValueError:
        negative_prompt = False
    return {
        "form": form,
        "model": model,
        "operation": operation,
        "negative_prompt": negative_prompt,
        "operations": EDIT_OPERATIONS,
        "model_choices": [(m, catalog.availability(m)) for m in catalog.models_for(operation)],
        "aspects": OUTPAINT_ASPECTS,
        "overlap": imaging.OUTPAINT_OVERLAP,
        "reference_operations": specs.WITH_REFERENCES,
        "url_patterns": url_patterns(),
        **extra,
    }


@require_GET
def editor(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if (job_id := request.GET.get("job", "").strip()) and (restored := _form_for_job(request, job_id)):
        form, image = restored
        return render(request, EDITOR, _context(form, image=image))
    image = get_object_or_404(Image.objects.select_related("job"), pk=pk) if pk else None
    operation = request.GET.get("operation", "edit")
    if operation not in EDIT_OPERATIONS:
        operation = "edit"
    preferred = image.job.model_id if image else ""
    initial = {"operation": operation, "source": pk, "model": catalog.default_model(operation, preferred)}
    if image:
        initial.update(prompt=image.job.prompt, negative_prompt=image.job.negative_prompt)
    return render(request, EDITOR, _context(EditForm(initial=initial), image=image))


def _form_for_job(request: HttpRequest, job_id: str) -> tuple[EditForm, Image | None] | None:
    """Edit and retry: an edit job's settings in the editor, on the image it started from, checked
    against today's catalog so what no longer holds is marked."""
    job = Job.objects.select_related("source_image").filter(pk=params.object_id(job_id) or 0).first()
    if job is None or (job.owner_id != request.user.pk and not request.user.is_staff):
        messages.error(request, "That job no longer exists.")
        return None
    if job.operation not in EDIT_OPERATIONS:
        messages.error(request, "That job was not made in the editor.")
        return None
    try:
        restored = specs.from_job(job)
    except specs.Invalid as exc:
        messages.warning(request, f"Only the prompt could be restored: {exc}")
        initial = {"operation": job.operation, "model": job.model_id, "prompt": job.prompt,
                   "negative_prompt": job.negative_prompt, "source": job.source_image_id}  # fmt: skip
        return EditForm(initial=initial), job.source_image
    form = EditForm(edit_initial_from_request(restored, source=job.source_image_id), restored=restored)
    again = [
        "choose the image again (it was an upload)" if job.source_image is None else "",
        "paint the mask again" if restored.inputs.mask and restored.operation in specs.MASKED else "",
        "choose the reference images again" if restored.inputs.references else "",
    ]
    again_text = "; ".join(a for a in again if a)
    if form.is_valid():
        messages.info(request, "Settings from the job" + (f": {again_text}." if again_text else ". Change anything."))
    else:
        messages.warning(request, "Settings from the job. What no longer holds is marked: fix it"
                                  + (f"; {again_text}." if again_text else "."))  # fmt: skip
    return form, job.source_image


@require_GET
def editor_fields(request: HttpRequest) -> HttpResponse:
    """The operation- and model-specific part of the editor form, after either one changes."""
    initial = {key: value for key, value in request.GET.items() if value != ""}
    operation = initial.get("operation", "edit")
    if operation not in EDIT_OPERATIONS:
        operation = initial["operation"] = "edit"
    initial["model"] = catalog.default_model(operation, initial.get("model", ""))
    form = EditForm(initial=initial)
    if form.catalog_model and initial.get("quality") not in form.catalog_model.qualities:
        form.initial["quality"] = form.catalog_model.default_quality
    return render(request, f"{EDITOR}#edit_fields", _context(form))


@require_POST
def editor_submit(request: HttpRequest) -> HttpResponse:
    form = EditForm(request.POST, request.FILES)
    job = queue(form, lambda: jobs.job_create_edit(owner=request.user, edit=form.prepared))
    if job is None:
        if request.htmx:
            response = render(request, f"{EDITOR}#edit_fields", _context(form), status=form.status_code)
            return reswap(retarget(response, "#edit-fields"), "outerHTML")
        image = Image.objects.filter(pk=params.object_id(form["source"].value()) or 0).first()
        return render(request, EDITOR, _context(form, image=image), status=form.status_code)
    if request.htmx:
        refreshed = EditForm(initial=request.POST.dict())
        return new_card_response(request, job, f"{EDITOR}#new_edit_job", **_context(refreshed))
    return redirect("studio:job", pk=job.pk)
