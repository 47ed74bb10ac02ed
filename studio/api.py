"""JSON API v1: the catalog, jobs and images, for scripts holding an API token."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from gallery import saved_searches, selectors
from gallery.models import Image
from studio import catalog, comparisons, editing, imaging, jobs, media, params, pricing, specs
from studio.metadata import reader, restore
from studio.models import Job

TOKEN_KINDS = ("text_input", "image_input", "image_output", "text_output")

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
    if option.only_with:
        data["only_with"] = {"option": option.only_with.option, "values": list(option.only_with.values)}
    if option.operations is not None:
        data["operations"] = sorted(option.operations)
    return data


def size_rule_json(rule: catalog.SizeRule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {"step": rule.step, "min_edge": rule.min_edge, "max_edge": rule.max_edge, "min_pixels": rule.min_pixels,
            "max_pixels": rule.max_pixels or None, "max_ratio": rule.max_ratio or None}  # fmt: skip


def pricing_json(model: catalog.Model) -> dict[str, Any] | None:
    """How the model is billed, at what figures, and where they come from; None when unknown."""
    p = model.pricing
    if p is None:
        return None
    rate = pricing.plan_rate(model) if p.per_job is not None else None
    return {
        "source": p.source,
        "checked": p.checked,
        "per_image_usd": {key: str(value) for key, value in p.per_image.items()},
        "usd_per_million_tokens": {name: str(getattr(p.tokens, name)) for name in TOKEN_KINDS} if p.tokens else None,
        "credits_per_image": {op.value: str(n) for op, n in p.credits.items()},
        "usd_per_credit": str(p.usd_per_credit) if p.credits else None,
        "usd_per_job": str(rate) if rate is not None else None,
        "note": p.note,
    }


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
            {"aspect_ratio": s.aspect, "size": s.value, "width": s.width, "height": s.height, "name": s.name}
            for s in model.sizes
        ],
        "qualities": list(model.qualities),
        "default_quality": model.default_quality,
        "max_n": model.max_n,
        "max_n_by_operation": {op.value: model.max_n_for(op) for op in sorted(model.operations)},
        "negative_prompt": model.negative_prompt,
        "negative_prompt_by_operation": {op.value: model.takes_negative_prompt(op) for op in sorted(model.operations)},
        "seed": model.seed,
        "seed_max": model.seed_max,
        "max_prompt_chars": model.max_prompt_chars,
        "options": [option_json(o) for o in model.options],
        "rules": [
            {
                "option": r.option,
                "values": list(r.values),
                "needs": {"option": r.needs.option, "values": list(r.needs.values)},
            }
            for r in model.rules
        ],
        "free_sizes": size_rule_json(model.size_rule),
        "free_generate": model.free_generate,
        "upscale": {
            "factors": list(model.upscale.factors),
            "max_input_pixels": model.upscale.max_input_pixels,
            "max_output_edge": model.upscale.max_output_edge,
            "max_output_pixels": model.upscale.max_output_pixels or None,
        }
        if model.upscale
        else None,
        "control_kinds": list(model.control_kinds),
        "max_references": model.max_references,
        "retired": model.retired,
        "price_usd": {key: str(value) for key, value in model.pricing.per_image.items()} if model.pricing else {},
        "pricing": pricing_json(model),
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
        # What POST .../retry would do: collect the result the provider may still hold, or buy anew.
        "retry_collects": jobs.job_collects(job),
        # The job whose result this one collects; the job that took this one's result over to collect it.
        "collected_from": job.collected_from_id,
        "collected_by": Job.objects.filter(collected_from=job).order_by("-pk").values_list("pk", flat=True).first(),
    }


@token_required
@require_GET
def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": [model_json(m) for m in catalog.MODELS.values()]})


def _invalid(exc: specs.Invalid) -> JsonResponse:
    return error(400, "The request is not valid.", fields=exc.errors)


REQUEST_KEYS = ("prompt", "negative_prompt", "quality", "n", "seed", "options")


@token_required
@require_http_methods(["POST"])
def job_create(request: HttpRequest) -> JsonResponse:
    try:
        payload = params.json_object(request.body)
    except ValueError as exc:
        return error(400, str(exc))
    if not isinstance(payload.get("options") or {}, dict):
        return error(400, "The request is not valid.", fields={"options": ["Give the options as a JSON object."]})
    common = {key: payload[key] for key in REQUEST_KEYS if key in payload}
    try:
        specs.check_types(payload)
        if payload.get("operation", "generate") != "generate":
            edit = _prepare_edit(payload, common)
            return _queue(request, lambda: jobs.job_create_edit(owner=request.user, edit=edit))
        image_request = specs.build(
            model=str(payload.get("model", "")),
            size=payload.get("size"),
            aspect_ratio=payload.get("aspect_ratio"),
            **common,
        )
    except specs.Invalid as exc:
        return _invalid(exc)
    return _queue(request, lambda: jobs.job_create(owner=request.user, request=image_request))


def _file(payload: dict[str, Any], name: str, value: Any) -> bytes:
    try:
        return base64.b64decode(str(value).split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise specs.Invalid({name: ["Send each file as base64 (a data URL works too)."]}) from None


def _prepare_edit(payload: dict[str, Any], common: dict[str, Any]) -> editing.PreparedEdit:
    """Edits take the source as `source_image` (a gallery id) or `image`; `image`, `mask` and
    `references` (a list) are base64."""
    extend = payload.get("extend") or {}
    if not isinstance(extend, dict) or not all(type(value) is int for value in extend.values()):
        raise specs.Invalid({"extend": ["Give {left, top, right, bottom} pixels as whole numbers."]})
    unknown = set(extend) - {"left", "top", "right", "bottom"}
    if unknown:
        raise specs.Invalid({"extend": [f"Unknown side {', '.join(sorted(unknown))}: use left, top, right, bottom."]})
    references = payload.get("references") or []
    if not isinstance(references, list):
        raise specs.Invalid({"references": ["Give the reference images as a list of base64 strings."]})
    source_id = payload.get("source_image")
    source_image = None
    if source_id is not None:
        image_id = params.object_id(source_id) if type(source_id) is int else None
        source_image = Image.objects.filter(pk=image_id).first() if image_id else None
        if source_image is None:
            raise specs.Invalid({"source_image": [f"There is no gallery image {source_id}."]})
        try:
            with default_storage.open(source_image.file) as file:
                source = file.read()
        except FileNotFoundError:
            raise specs.Invalid({"source_image": [f"Gallery image {source_id}'s file is missing."]}) from None
    elif payload.get("image"):
        source = _file(payload, "image", payload["image"])
    else:
        raise specs.Invalid({"image": ["Send the image to edit as `image` (base64) or `source_image` (an id)."]})
    settings = specs.EditSettings(**{k: payload[k] for k in specs.EDIT_NUMBERS if payload.get(k) is not None},
                                  extend=specs.Extension(**extend),
                                  search_prompt=str(payload.get("search_prompt") or ""),
                                  control_kind=str(payload.get("control_kind") or ""))  # fmt: skip
    return editing.prepare(
        model=str(payload.get("model", "")),
        operation=str(payload.get("operation")),
        source=source,
        source_image=source_image,
        mask=_file(payload, "mask", payload["mask"]) if payload.get("mask") else None,
        references=[_file(payload, "references", item) for item in references],
        settings=settings,
        extend_aspect=str(payload.get("extend_aspect") or ""),
        **common,
    )


def _queue(request: HttpRequest, create: Callable[[], Job], **extra: Any) -> JsonResponse:
    try:
        job = create()
    except jobs.JobRefused as exc:
        return error(exc.status or 403, str(exc), kind=exc.kind)
    except media.StorageFailure as exc:
        return error(503, f"Atelier could not store the input images: {exc.reason}.", kind="storage")
    response = JsonResponse({**job_json(request, job), **extra}, status=201)
    response["Location"] = request.build_absolute_uri(reverse("api:job", args=[job.pk]))
    return response


@token_required
@require_GET
def saved_search_list(request: HttpRequest) -> JsonResponse:
    """The viewer's saved searches and the team's shared ones; use an id as /images?saved=<id>."""
    return JsonResponse(
        {
            "saved_searches": [
                {"id": s.pk, "name": s.name, "owner": s.owner.get_username(), "shared": s.shared, "query": s.query}
                for s in saved_searches.visible_to(request.user)
            ]
        }
    )


@token_required
@require_http_methods(["POST"])
def settings_import(request: HttpRequest) -> JsonResponse:
    """The settings an image carries (Atelier's, A1111's, ComfyUI's, InvokeAI's) put onto a model:
    multipart `image` (+ `model`), or JSON {"image": base64, "model": ...}. Nothing is stored."""
    if request.content_type == "application/json":
        try:
            payload = params.json_object(request.body)
        except ValueError as exc:
            return error(400, str(exc))
        if not payload.get("image"):
            return error(400, "Send the image as `image` (base64), or as a multipart file.")
        try:
            data = _file(payload, "image", payload["image"])
        except specs.Invalid as exc:
            return _invalid(exc)
        chosen = str(payload.get("model") or "")
    elif upload := request.FILES.get("image"):
        data, chosen = upload.read(django_settings.UPLOAD_MAX_BYTES + 1), request.POST.get("model", "")
    else:
        return error(400, 'Send the image as a multipart file `image`, or as JSON {"image": base64}.')
    try:
        found = reader.read(data)
    except imaging.ImageRejected as exc:
        return error(400, str(exc), fields={"image": [str(exc)]})
    if found is None:
        return error(400, "The image carries no settings Atelier can read.", kind="no_settings")
    restored = restore.onto(found, chosen)
    return JsonResponse(
        {
            "source": restored.source,
            "settings": restored.request_json(),
            "adjusted": list(restored.adjusted),
            "not_restored": list(restored.not_restored),
        }
    )


@token_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> JsonResponse:
    jobs = Job.objects.prefetch_related("images__owner").filter(comparisons.visible_to(request.user))
    job = jobs.filter(pk=pk, owner=request.user).first()
    if job is None:
        return error(404, f"You have no job {pk}.")
    return JsonResponse(job_json(request, job))


@token_required
@require_http_methods(["POST"])
def job_retry(request: HttpRequest, pk: int) -> JsonResponse:
    """Run a failed or canceled job again as a new job (201): it collects the result the provider
    may still hold (`retry.collects`), else buys anew; `{"collect": true}` collects or is refused
    (409), `{"fresh": true}` buys anew in any case. A job whose result another job took over is
    refused (409) unless `fresh`: buying it again must be asked for."""
    try:
        payload = params.json_object(request.body)
    except ValueError as exc:
        return error(400, str(exc))
    flags = {name: payload.get(name, False) for name in ("fresh", "collect")}
    if wrong := {name: ["Give this as true or false."] for name, value in flags.items() if not isinstance(value, bool)}:
        return error(400, "The request is not valid.", fields=wrong)
    job = Job.objects.filter(comparisons.visible_to(request.user)).filter(pk=pk, owner=request.user).first()
    if job is None:
        return error(404, f"You have no job {pk}.")
    # job_retry decides on this same row: a hand-over it loses is a 409, never a purchase.
    collects = not flags["fresh"] and jobs.job_collects(job)

    def retry() -> Job:
        return jobs.job_retry(job=job, by=request.user, **flags)

    try:
        return _queue(request, retry, retry={"of": job.pk, "collects": collects})
    except jobs.NotRetryable as exc:
        return error(409, str(exc), kind=exc.kind)
    except specs.Invalid as exc:
        return _invalid(exc)


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
    if "saved" in request.GET:  # a saved search's filters instead
        saved = saved_searches.get_for_user(request.user, params.object_id(request.GET["saved"]))
        if saved is None:
            return error(404, "You have no saved search with that id, and nobody shared one with it.")
        filters = saved_searches.filters(saved)
    page = selectors.image_page(viewer=request.user, filters=filters, cursor=cursor)
    return JsonResponse({"images": [image_json(request, i) for i in page.images], "next_cursor": page.next_cursor})
