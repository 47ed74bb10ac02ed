"""Gallery pages: the team grid and its saved searches, image detail, files, delete and favourite,
boards and tags."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from gallery import saved_searches, selectors, services
from gallery.models import Board, Favourite, Image, url_patterns
from studio import catalog, comparisons, params
from studio.jobs import MIDJOURNEY_ACTIONS

GRID = "gallery/grid.html"
DETAIL = "gallery/detail.html"
BOARDS = "gallery/boards.html"
# Nobody types them into a filter, and PostgreSQL refuses NUL in text: they are dropped.


def get_image_for_user(request: HttpRequest, pk: int, *, to_change: bool = False) -> Image:
    """Any team member may see an image (a blind comparison's once they have voted on it); only
    its owner or staff may delete it."""
    images = Image.objects.select_related("job__source_image", "owner").filter(
        comparisons.visible_to(request.user, "job")
    )
    image = get_object_or_404(images, pk=pk)
    if to_change and not services.can_delete(request.user, image):
        raise PermissionDenied("Only the person who made this image can delete it.")
    return image


@require_GET
def grid(request: HttpRequest) -> HttpResponse:
    notices: list[str] = []
    saved = None
    if "saved" in request.GET:
        saved = saved_searches.get_for_user(request.user, params.object_id(request.GET["saved"]))
        if saved is None:
            raise Http404("There is no such saved search, or it is not shared with you.")
    filters = saved_searches.filters(saved) if saved else selectors.filters_from(request.GET, notices)
    page = selectors.image_page(viewer=request.user, filters=filters, cursor=request.GET.get("cursor", ""))
    query = request.GET.copy()
    query.pop("cursor", None)
    fragment = bool(request.htmx and request.GET.get("cursor"))  # infinite scroll: tiles only, no menus
    boards, tags = ([], []) if fragment else selectors.filter_menus()
    context = {
        "page": page,
        "filters": filters,
        "notices": notices,
        "models": catalog.MODELS.values(),
        "operations": list(catalog.Operation),
        "boards": boards,
        "tags": tags,
        "saved": saved,
        "saved_searches": saved_searches.visible_to(request.user),
        "query": query.urlencode(),
        "reuse_url": reverse("studio:home"),
        "url_patterns": url_patterns(),
    }
    # The board being shown comes from the list the filter menu needs anyway: no extra query.
    board = next((b for b in context["boards"] if b.pk == filters.board), None) if filters.board else None
    context["board"] = board
    context["board_deletable"] = board is not None and services.can_delete_board(request.user, board)
    if fragment:
        return render(request, f"{GRID}#tiles", context)
    if request.htmx and request.htmx.target == "grid":
        return render(request, f"{GRID}#grid", context)
    return render(request, GRID, context)


@require_POST
def saved_search_create(request: HttpRequest) -> HttpResponse:
    """Save the filters of the page (`query`, as the grid's query string) under `name`."""
    filters = selectors.filters_from(QueryDict(request.POST.get("query", "")), [])
    try:
        search = saved_searches.create(
            owner=request.user,
            name=request.POST.get("name", ""),
            filters=filters,
            shared=request.POST.get("shared") == "1",
        )
    except services.GalleryError as exc:
        messages.error(request, str(exc))
        return redirect(f"{reverse('gallery:grid')}?{filters.query()}")
    who = "for the team" if search.shared else "for you alone"
    messages.success(request, f"Saved the search “{search.name}” {who}.")
    return redirect(f"{reverse('gallery:grid')}?saved={search.pk}")


@require_POST
def saved_search_delete(request: HttpRequest, pk: int) -> HttpResponse:
    search = saved_searches.delete(owner=request.user, pk=pk)
    if search is None:
        raise Http404("You have no such saved search.")
    messages.success(request, f"Removed the saved search “{search.name}”.")
    return redirect("gallery:grid")


QUICK_ACTIONS = (("variation", "Vary"), ("upscale", "Upscale"))


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    job = image.job
    quick_actions = [
        (operation, label, model_id)
        for operation, label in QUICK_ACTIONS
        if (model_id := catalog.default_model(operation, job.model_id))
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
        "midjourney_actions": MIDJOURNEY_ACTIONS if job.usage.get("grid") else (),
        "image_boards": selectors.boards_on(image=image, viewer=request.user),
        "image_tags": selectors.tags_on(image=image, viewer=request.user),
        "boards": Board.objects.all(),
    }
    return render(request, DETAIL, context)


def _file_response(name: str, *, download_as: str = "") -> FileResponse:
    """Stream a file from media storage (local disk or S3) through this login-checked view."""
    try:
        file = default_storage.open(name)
    except FileNotFoundError as exc:
        raise Http404("This file is gone from storage.") from exc
    response = FileResponse(file, as_attachment=bool(download_as), filename=download_as or None)
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


@require_POST
def image_tags(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a tag (`tag`) or remove one (`remove`) on one image."""
    image = get_image_for_user(request, pk)
    try:
        if "remove" in request.POST:
            services.tag_remove(image=image, name=request.POST["remove"], user=request.user)
        else:
            services.tag_add(images=[image], raw=request.POST.get("tag", ""), user=request.user)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.GalleryError as exc:
        messages.error(request, str(exc))
    return redirect("gallery:detail", pk=pk)


@require_POST
def image_boards(request: HttpRequest, pk: int) -> HttpResponse:
    """Add the image to a board (`board`), a new board (`new_board`), or take it off one (`remove`)."""
    image = get_image_for_user(request, pk)
    try:
        if "remove" in request.POST:
            board = get_object_or_404(Board, pk=params.object_id(request.POST["remove"]) or 0)
            services.board_remove(board=board, image=image, user=request.user)
        else:
            board = _board_from(request)
            services.board_add(board=board, images=[image], user=request.user)
            messages.success(request, f"Added to “{board.name}”.")
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.GalleryError as exc:
        messages.error(request, str(exc))
    return redirect("gallery:detail", pk=pk)


def _board_from(request: HttpRequest) -> Board:
    """The board a form names: an existing one by id, or a new one by name."""
    if name := request.POST.get("new_board", "").strip():
        return services.board_create(name=name, user=request.user)
    board_id = params.object_id(request.POST.get("board"))
    board = Board.objects.filter(pk=board_id).first() if board_id else None
    if board is None:
        raise services.GalleryError("Pick a board, or name a new one.")
    return board


def _boards_page(request: HttpRequest, *, status: int = 200, **context) -> HttpResponse:
    return render(request, BOARDS, {"boards": selectors.board_list(viewer=request.user), **context}, status=status)


@require_GET
def boards(request: HttpRequest) -> HttpResponse:
    return _boards_page(request)


@require_POST
def board_create(request: HttpRequest) -> HttpResponse:
    try:
        board = services.board_create(name=request.POST.get("name", ""), user=request.user)
    except services.GalleryError as exc:
        return _boards_page(request, status=422, error=str(exc), name=request.POST.get("name", "")[:80])
    return redirect(f"{reverse('gallery:grid')}?board={board.pk}")


@require_POST
def board_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a board (its creator or staff); the images on it stay in the gallery."""
    board = get_object_or_404(Board, pk=pk)
    try:
        count = services.board_delete(board=board, user=request.user)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    kept = f" Its {count} image{pluralize(count)} {pluralize(count, 'stays,stay')} in the gallery." if count else ""
    messages.success(request, f"Deleted the board “{board.name}”.{kept}")
    return redirect("gallery:boards")


BULK_LIMIT = 500


@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Act on the selected images: add to a board, tag, download as zip, delete own."""
    ids = list(dict.fromkeys(i for i in map(params.object_id, request.POST.getlist("ids")) if i))[:BULK_LIMIT]
    selected = Image.objects.filter(pk__in=ids).select_related("job", "owner").order_by("-created_at", "-id")
    action = request.POST.get("action", "")
    back = (
        request.POST.get("next", "")
        if request.POST.get("next", "").startswith("/gallery/")
        else reverse("gallery:grid")
    )
    if not ids:
        messages.error(request, "Select some images first: tick the box on each.")
        return redirect(back)
    try:
        if action == "zip":
            response = StreamingHttpResponse(
                services.zip_stream(selected.iterator(chunk_size=100)), content_type="application/zip"
            )
            response["Content-Disposition"] = f'attachment; filename="atelier-{len(ids)}-images.zip"'
            return response
        if action == "board":
            board = _board_from(request)
            added = services.board_add(board=board, images=selected, user=request.user)
            messages.success(request, f"Added {added} image{pluralize(added)} to “{board.name}”.")
        elif action == "tag":
            tag = services.tag_add(images=selected, raw=request.POST.get("tag", ""), user=request.user)
            messages.success(request, f"Tagged {len(ids)} image{pluralize(len(ids))} “{tag.name}”.")
        elif action == "delete":
            deleted, kept = services.bulk_delete(user=request.user, images=selected)
            text = f"Deleted {deleted} image{pluralize(deleted)}."
            if kept:
                text += f" Kept {kept} made by others: only their owner can delete them."
            messages.success(request, text)
        else:
            messages.error(request, "Choose what to do with the selected images.")
    except services.GalleryError as exc:
        messages.error(request, str(exc))
    return redirect(back)
