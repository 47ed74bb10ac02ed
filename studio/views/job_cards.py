"""Job cards wherever they show (the studio, a job's page): live updates, older pages, and the
actions on their images."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from gallery import services as gallery
from gallery.models import Image
from studio import cards, catalog, jobs, live, params
from studio.forms import EditForm, queue
from studio.views.studio import HOME, card_response, new_card_response, refusal


@require_GET
@transaction.non_atomic_requests  # every look must see what workers committed since the last one
def job_updates(request: HttpRequest) -> HttpResponse:
    """Long-poll: the page's cards that changed, as out-of-band swaps, once any has (see studio.live)."""
    watch = live.parse(request.GET.getlist("watch"), request.GET.get("page", ""))
    update = live.wait_for_change(watch=watch, viewer=request.user)
    context = {"changed": update.changed, "page": watch.page or live.page_token(), "busy": update.busy}
    return render(request, f"{HOME}#live", context)


@require_GET
def jobs_older(request: HttpRequest) -> HttpResponse:
    """The next page of older job cards (keyset: jobs before `before`), with the link to the one after."""
    before = params.object_id(request.GET.get("before", ""))
    if not request.htmx:
        return redirect(f"{reverse('studio:home')}?before={before or ''}")
    rows, older = cards.job_page(owner=request.user, before=before)
    return render(request, f"{HOME}#older_jobs", {"jobs": rows, "older": older})


@require_POST
def image_favourite(request: HttpRequest, image_pk: int) -> HttpResponse:
    """Mark or unmark an image of a card as the user's favourite; the card is redrawn."""
    image = get_object_or_404(Image.objects.select_related("job"), pk=image_pk)
    gallery.favourite_toggle(user=request.user, image=image)
    if request.htmx:
        return card_response(request, image.job)
    return redirect("gallery:detail", pk=image_pk)


@require_POST
def image_quick_action(request: HttpRequest, image_pk: int) -> HttpResponse:
    """Vary or upscale an image with the default model for that, as a new job in the studio."""
    image = get_object_or_404(Image.objects.select_related("job"), pk=image_pk)
    operation, _ = cards.QUICK_ACTIONS.get(request.POST.get("action", ""), (None, ""))
    model_id = catalog.default_model(operation, image.job.model_id) if operation else ""
    if not model_id:
        return _refused(request, image, "No model here can do that with this image.")
    form = EditForm(
        {
            "source": image.pk,
            "operation": operation,
            "model": model_id,
            "n": 1,
            "quality": image.job.params.get("quality", ""),
        }
    )
    job = queue(form, lambda: jobs.job_create_edit(owner=request.user, edit=form.prepared))
    if job is None:
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        return _refused(request, image, " ".join(errors) or "That could not be queued.")
    if request.htmx:
        return new_card_response(request, job)
    return redirect("studio:job", pk=job.pk)


def _refused(request: HttpRequest, image: Image, message: str) -> HttpResponse:
    if request.htmx:
        return refusal(message)
    messages.error(request, message)
    return redirect("gallery:detail", pk=image.pk)
