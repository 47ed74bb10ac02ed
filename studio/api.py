"""JSON API v1: the catalog, jobs and images, for scripts holding an API token."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from gallery import selectors
from gallery.models import Image
from studio import catalog, jobs
from studio.forms import OPTION_PREFIX, EditForm, JobForm, form_data_from_api
from studio.models import Job

View = Callable[..., JsonResponse]


def error(status: int, message: str, **details: Any) -> JsonResponse:
    return JsonResponse({"error": {"message": message, **details}}, status=status)


def token_required(view: View) -> View:
    """Bearer-token auth only (the BearerTokenMiddleware sets the user); 401 JSON otherwise."""

    @login_not_required
    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if not getattr(request, "bearer_token_given", False):
            return error(
                401, "Send an API token: Authorization: Bearer <token>. Create one under Account → API tokens."
            )
        if not request.user.is_authenticated:
            return error(401, "That API token is not valid (revoked or mistyped).")
        return view(request, *args, **kwargs)

    return wrapper


def _absolute(request: HttpRequest, name: str, pk: int) -> str:
    return request.build_absolute_uri(reverse(name, args=[pk]))


def option_json(option: catalog.Option) -> dict[str, Any]:
    data: dict[str, Any] = {"name": option.name, "label": option.label, "type": option.kind, "default": option.default}
    if option.kind in ("int", "float"):
        data.update(min=option.min, max=option.max)
    if option.choices:
        data["choices"] = list(option.choices)
    return data


def model_json(model: catalog.Model) -> dict[str, Any]:
    available = catalog.availability(model)
    return {
        "id": model.id,
        "label": model.label,
        "provider": model.provider,
        "enabled": available.enabled,
        "disabled_reason": available.reason,
        "operations": sorted(model.operations),
        "sizes": [
            {"aspect_ratio": s.aspect, "size": s.value, "width": s.width, "height": s.height} for s in model.sizes
        ],
        "qualities": list(model.qualities),
        "default_quality": model.default_quality,
        "max_n": model.max_n,
        "negative_prompt": model.negative_prompt,
        "seed": model.seed,
        "max_prompt_chars": model.max_prompt_chars,
        "options": [option_json(o) for o in model.options],
        "price_usd": {key: str(value) for key, value in model.prices.items()},
        "note": model.note,
    }


def image_json(request: HttpRequest, image: Image) -> dict[str, Any]:
    return {
        "id": image.pk,
        "job": image.job_id,
        "owner": image.owner.get_username(),
        "width": image.width,
        "height": image.height,
        "seed": image.seed,
        "revised_prompt": image.revised_prompt,
        "sha256": image.content_hash,
        "created_at": image.created_at.isoformat(),
        "url": _absolute(request, "gallery:file", image.pk),
        "thumbnail_url": _absolute(request, "gallery:thumbnail", image.pk),
        "page_url": _absolute(request, "gallery:detail", image.pk),
    }


def job_json(request: HttpRequest, job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "model": job.model_id,
        "operation": job.operation,
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "params": job.params,
        "error": {"kind": job.error_kind, "message": job.error_message} if job.status == Job.Status.FAILED else None,
        "attempts": job.attempts,
        "provider_job_id": job.provider_job_id,
        "cost_usd": str(job.cost) if job.cost is not None else None,
        "queued_at": job.queued_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "images": [image_json(request, image) for image in job.images.all()],
        "source_image": job.source_image_id,
    }


@token_required
@require_GET
def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": [model_json(m) for m in catalog.MODELS.values()]})


def _form_errors(form: JobForm) -> dict[str, list[str]]:
    errors = {}
    for field, messages in form.errors.items():
        name = field.removeprefix(OPTION_PREFIX) if field.startswith(OPTION_PREFIX) else field
        key = f"options.{name}" if field.startswith(OPTION_PREFIX) else ("request" if field == "__all__" else name)
        errors[key] = list(messages)
    return errors


@token_required
@require_http_methods(["POST"])
def job_create(request: HttpRequest) -> JsonResponse:
    try:
        payload = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "The body must be JSON.")
    if not isinstance(payload, dict):
        return error(400, "The body must be a JSON object.")
    if not isinstance(payload.get("options") or {}, dict):
        return error(400, "The request is not valid.", fields={"options": ["Give the options as a JSON object."]})
    if payload.get("operation", "generate") != "generate":
        return _edit_job_create(request, payload)
    form = JobForm(form_data_from_api(payload))
    if not form.is_valid():
        return error(400, "The request is not valid.", fields=_form_errors(form))
    return _queue(request, lambda: jobs.job_create(owner=request.user, spec=form.spec()))


def _edit_job_create(request: HttpRequest, payload: dict[str, Any]) -> JsonResponse:
    """Edits take the source as `source_image` (a gallery id) or `image`; `image`, `mask` and
    `references` (a list) are base64."""
    files = MultiValueDict()
    for name in ("image", "mask", "references"):
        value = payload.pop(name, None)
        if value is None:
            continue
        for index, item in enumerate(value if name == "references" and isinstance(value, list) else [value]):
            try:
                content = base64.b64decode(str(item).split(",", 1)[-1], validate=True)
            except (binascii.Error, ValueError):
                message = "Send each file as base64 (a data URL works too)."
                return error(400, "The request is not valid.", fields={name: [message]})
            files.appendlist(name, SimpleUploadedFile(f"{name}-{index}.png", content))
    extend = payload.get("extend") or {}
    if not isinstance(extend, dict):
        return error(400, "The request is not valid.", fields={"extend": ["Give {left, top, right, bottom} pixels."]})
    data = form_data_from_api({k: v for k, v in payload.items() if k not in ("source_image", "extend")})
    data.pop("size", None)
    data["source"] = payload.get("source_image")
    for side, value in extend.items():
        data[f"extend_{side}"] = value
    form = EditForm(data, files)
    if not form.is_valid():
        return error(400, "The request is not valid.", fields=_form_errors(form))
    return _queue(request, lambda: jobs.job_create_edit(owner=request.user, spec=form.edit_spec()))


def _queue(request: HttpRequest, create: Callable[[], Job]) -> JsonResponse:
    try:
        job = create()
    except jobs.BudgetExceeded as exc:
        return error(403, str(exc), kind="budget_exceeded")
    response = JsonResponse(job_json(request, job), status=201)
    response["Location"] = request.build_absolute_uri(reverse("api:job", args=[job.pk]))
    return response


@token_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> JsonResponse:
    job = Job.objects.prefetch_related("images__owner").filter(pk=pk, owner=request.user).first()
    if job is None:
        return error(404, f"You have no job {pk}.")
    return JsonResponse(job_json(request, job))


@token_required
@require_GET
def images(request: HttpRequest) -> JsonResponse:
    cursor = request.GET.get("cursor", "")
    if cursor and selectors.decode_cursor(cursor) is None:
        return error(400, "The cursor is not valid; use the next_cursor of a previous page.")
    model = request.GET.get("model", "")
    if model and model not in catalog.MODELS:
        return error(400, f"Unknown model “{model}”.")
    filters = selectors.Filters(mine=request.GET.get("mine") == "1", model=model, q=request.GET.get("q", "")[:200])
    page = selectors.image_page(viewer=request.user, filters=filters, cursor=cursor)
    return JsonResponse({"images": [image_json(request, i) for i in page.images], "next_cursor": page.next_cursor})
