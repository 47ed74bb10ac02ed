"""Gallery pages: the team grid, image detail, files, delete and favourite."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from gallery import selectors, services
from gallery.models import Favourite, Image
from studio import catalog
from studio.editor import default_model

GRID = "gallery/grid.html"
DETAIL = "gallery/detail.html"


def get_image_for_user(request: HttpRequest, pk: int, *, to_change: bool = False) -> Image:
    """Any team member may see an image; only its owner or staff may delete it."""
    image = get_object_or_404(Image.objects.select_related("job__source_image", "owner"), pk=pk)
    if to_change and image.owner_id != request.user.pk and not request.user.is_staff:
        raise PermissionDenied("Only the person who made this image can delete it.")
    return image


def _filters(request: HttpRequest) -> selectors.Filters:
    return selectors.Filters(
        mine=request.GET.get("scope") == "mine",
        model=request.GET.get("model", "") if request.GET.get("model") in catalog.MODELS else "",
        favourites=request.GET.get("favourites") == "1",
        q=request.GET.get("q", "").strip()[:200],
    )


@require_GET
def grid(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    page = selectors.image_page(viewer=request.user, filters=filters, cursor=request.GET.get("cursor", ""))
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {"page": page, "filters": filters, "models": catalog.MODELS.values(), "query": query.urlencode()}
    if request.htmx and request.GET.get("cursor"):
        return render(request, f"{GRID}#tiles", context)
    if request.htmx and request.htmx.target == "grid":
        return render(request, f"{GRID}#grid", context)
    return render(request, GRID, context)


QUICK_ACTIONS = (("variation", "Vary"), ("upscale", "Upscale"))


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    job = image.job
    quick_actions = [
        (operation, label, model_id)
        for operation, label in QUICK_ACTIONS
        if (model_id := default_model(operation, job.model_id))
    ]
    context = {
        "image": image,
        "job": job,
        "model": catalog.get_model(job.model_id),
        "siblings": job.images.exclude(pk=image.pk).order_by("index"),
        "parent": job.source_image,
        "children": Image.objects.filter(job__source_image=image).select_related("job")[:48],
        "is_favourite": Favourite.objects.filter(user=request.user, image=image).exists(),
        "quick_actions": quick_actions,
    }
    return render(request, DETAIL, context)


def _file_response(name: str, *, download_as: str = "") -> FileResponse:
    response = FileResponse(default_storage.open(name), as_attachment=bool(download_as), filename=download_as or None)
    # Files are named by uuid and never rewritten, so browsers may keep them.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@require_GET
def image_file(request: HttpRequest, pk: int) -> FileResponse:
    return _file_response(get_image_for_user(request, pk).file)


@require_GET
def image_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    return _file_response(get_image_for_user(request, pk).thumbnail)


@require_GET
def image_mask(request: HttpRequest, pk: int) -> FileResponse:
    """The mask the provider received for the job that made this image (white = changed)."""
    image = get_image_for_user(request, pk)
    if not image.job.mask_file:
        raise Http404("This image was not made with a mask.")
    return _file_response(image.job.mask_file)


@require_GET
def image_download(request: HttpRequest, pk: int) -> FileResponse:
    image = get_image_for_user(request, pk)
    return _file_response(image.file, download_as=image.filename)


@require_POST
def image_delete(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk, to_change=True)
    services.image_delete(image=image)
    messages.success(request, "Image deleted.")
    return redirect("gallery:grid")


@require_POST
def favourite(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    is_favourite = services.favourite_toggle(user=request.user, image=image)
    if request.htmx:
        return render(request, f"{DETAIL}#favourite", {"image": image, "is_favourite": is_favourite})
    return redirect("gallery:detail", pk=pk)
