"""OpenAI-compatible Images API under /openai/v1/: OpenAI's SDKs and clients make ordinary Atelier
jobs, with an Atelier API token as the key and catalog ids as model names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from compat import results
from compat.auth import Refused, token_view
from studio import catalog, editing, imaging, jobs, params, specs
from studio.catalog import Model, Operation
from studio.models import Job

# Request fields OpenAI documents that Atelier reads, by endpoint (files aside). `user` and
# `safety_identifier` identify the caller's end user to OpenAI: accepted, not used.
# `negative_prompt` and `seed` are Atelier's own, for clients that can send extra fields.
COMMON_FIELDS = frozenset({"model", "n", "size", "response_format", "user", "safety_identifier", "seed"})
OPTION_FIELDS = ("background", "moderation", "output_format", "output_compression", "style", "input_fidelity",
                 "complexity")  # fmt: skip
log = logging.getLogger(__name__)
PROMPTED_FIELDS = COMMON_FIELDS | {"prompt", "negative_prompt", "quality", "stream", "partial_images", *OPTION_FIELDS}
FILE_FIELDS = frozenset({"image", "image[]", "mask"})
RESPONSE_FORMATS = ("b64_json", "url")


INTERNAL = "Atelier failed while answering; the job may still finish: look for it in the gallery."


class ApiError(Exception):
    """An answer in OpenAI's error shape; `extra` adds Atelier's own keys (the job id)."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str = "", **extra: Any) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.extra = status, message, param, code, extra
        self.type = type_ or _error_type(status)


def _error_type(status: int) -> str:
    return {401: "authentication_error", 403: "permission_error"}.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )


def error_response(exc: ApiError) -> JsonResponse:
    body = {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code, **exc.extra}
    response = JsonResponse({"error": body}, status=exc.status)
    # OpenAI's SDKs retry 429s and 5xx by default; here a retry would queue a second job (a second
    # paid provider call), so every error says not to.
    response["x-should-retry"] = "false"
    return response


RETRY_REFUSED = ApiError(
    409,
    "This is an automatic retry of an image request. Atelier never repeats a paid call by itself: "
    "the first attempt's job may still be running, or have finished — look for it in the gallery, "
    "and send the request again yourself if you do want another.",
    code="retry_refused",
)


def _refused(exc: Refused) -> JsonResponse:
    return error_response(ApiError(exc.status, exc.message, code=exc.code))


def _invalid(exc: specs.Invalid) -> ApiError:
    field = next(iter(exc.errors), None)
    param = field.removeprefix("options.") if field else None
    return ApiError(400, str(exc), param=param, code="invalid_value")


def openai_view(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Token auth, then the view; every refusal on the way becomes OpenAI's error shape."""

    @token_view(_refused)
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if request.method == "POST" and _is_a_retry(request):
            return error_response(RETRY_REFUSED)
        try:
            return view(request, *args, **kwargs)
        except specs.Invalid as exc:
            return error_response(_invalid(exc))
        except jobs.JobRefused as exc:  # budget or per-user cap: 429; the queue down: 503
            kind = {"budget_exceeded": "insufficient_quota", "too_many_jobs": "rate_limit_error"}.get(exc.kind)
            return error_response(ApiError(exc.status or 429, str(exc), code=exc.kind, type_=kind or "server_error"))
        except ApiError as exc:
            return error_response(exc)
        except Exception:
            # A bug or an outage after the job was queued: still OpenAI's shape and no retry, so
            # the SDK does not queue (and pay for) the job again.
            log.exception("OpenAI-compatible %s failed", request.path)
            return error_response(ApiError(500, INTERNAL))

    return wrapper


def _is_a_retry(request: HttpRequest) -> bool:
    """The OpenAI SDKs number their attempts (`x-stainless-retry-count`). A retry reaches here when
    a proxy between them answered for Atelier (a gateway timeout, without x-should-retry) while
    the first attempt's job went on: running it again would buy the image twice."""
    count = request.headers.get("x-stainless-retry-count", "0")
    return count.isascii() and count.isdigit() and int(count) > 0


# --- models ------------------------------------------------------------------------------------


def model_json(model: Model) -> dict[str, Any]:
    # The catalog keeps no release dates: `created` is 0.
    return {"id": model.id, "object": "model", "created": 0, "owned_by": model.provider, "name": model.label}


@openai_view
@require_GET
def models(request: HttpRequest) -> JsonResponse:
    """The models that can take jobs here (the whole catalog is /api/v1/models)."""
    available = [m for m in catalog.MODELS.values() if catalog.availability(m).enabled]
    return JsonResponse({"object": "list", "data": [model_json(m) for m in available]})


@openai_view
@require_GET
def model_detail(request: HttpRequest, model_id: str) -> JsonResponse:
    return JsonResponse(model_json(_model(model_id)))


def _model(model_id: Any) -> Model:
    if not model_id:
        raise ApiError(400, "Say which model: `model` is a catalog id such as “offline”.", param="model")
    model = catalog.get_model(str(model_id))
    if model is None:
        raise ApiError(404, f"The model “{model_id}” does not exist; GET /openai/v1/models lists them.",
                       param="model", code="model_not_found")  # fmt: skip
    return model


# --- reading requests --------------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        return params.json_object(request.body)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _form_body(request: HttpRequest, allowed: frozenset[str]) -> dict[str, Any]:
    """Multipart fields as JSON would give them: numbers as numbers, so one validation serves both."""
    _check_fields(set(request.POST) | set(request.FILES), allowed | FILE_FIELDS)
    values: dict[str, Any] = {key: request.POST[key] for key in request.POST}
    for name in ("n", "seed", "partial_images"):
        if values.get(name, "") != "":
            try:
                values[name] = int(values[name])
            except ValueError:
                raise ApiError(400, f"`{name}` must be a whole number, not “{values[name]}”.", param=name) from None
    if "stream" in values:
        values["stream"] = values["stream"].lower() == "true"
    return values


def _check_fields(given: set[str], allowed: frozenset[str]) -> None:
    unknown = sorted(given - allowed)
    if unknown:
        raise ApiError(400, f"Unknown parameter: {unknown[0]}. Atelier reads {', '.join(sorted(allowed))}.",
                       param=unknown[0], code="unknown_parameter")  # fmt: skip


def _response_format(values: Mapping[str, Any]) -> str:
    value = values.get("response_format") or "b64_json"
    if value not in RESPONSE_FORMATS:
        raise ApiError(400, f"`response_format` is b64_json or url, not “{value}”.", param="response_format")
    if values.get("stream") or values.get("partial_images"):
        raise ApiError(400, "Atelier does not stream partial images: leave `stream` and `partial_images` out.",
                       param="stream")  # fmt: skip
    return value


def _request_fields(model: Model, values: Mapping[str, Any], operation: Operation) -> dict[str, Any]:
    """The fields specs.build takes, from OpenAI's: `auto` is the model's default wherever the model
    has no `auto` of its own; OpenAI's option fields are the catalog options of the same name."""
    specs.check_types({k: values.get(k) for k in ("prompt", "negative_prompt", "quality", "size", "n", "seed")})
    quality = values.get("quality")
    options = {}
    for name in OPTION_FIELDS:
        value = values.get(name)
        if value in (None, "") or (value == "auto" and model.option(name) is None):
            continue
        options[name] = value
    fields = {
        "prompt": values.get("prompt") or "",
        "negative_prompt": values.get("negative_prompt") or "",
        "quality": None if quality == "auto" and "auto" not in model.qualities else quality,
        "n": values.get("n"),
        "seed": values.get("seed"),
        "options": options,
    }
    if operation == Operation.VARIATION:
        del fields["prompt"], fields["negative_prompt"], fields["quality"]
    return fields


def _edit_size(values: Mapping[str, Any]) -> str | None:
    """The result size asked for; None for `auto` or none (the source's shape, fitted)."""
    size = values.get("size")
    return None if size in (None, "", "auto") else str(size)


def _upload(request: HttpRequest, name: str) -> bytes:
    upload = request.FILES.get(name)
    return upload.read() if upload else b""


def _sources(request: HttpRequest) -> list[bytes]:
    uploads = request.FILES.getlist("image") or request.FILES.getlist("image[]")
    if not uploads:
        raise ApiError(400, "Send the image to edit as the file `image` (several: `image[]`).", param="image")
    return [upload.read() for upload in uploads]


def atelier_mask(data: bytes, source: bytes) -> bytes:
    """OpenAI's mask (fully transparent pixels: edit here) as Atelier's (white: edit here). Its
    size is checked against the source's from the headers, before either is decoded."""
    source_size = _dimensions(source, "image")
    try:
        if (size := imaging.dimensions(data)) != source_size:
            raise specs.Invalid({"mask": [f"The mask is {size[0]}×{size[1]} but the image is "
                                          f"{source_size[0]}×{source_size[1]}; they must match."]})  # fmt: skip
        img = imaging.decode(data)
    except imaging.ImageRejected as exc:
        raise specs.Invalid({"mask": [str(exc)]}) from exc
    if "A" not in img.getbands() and "transparency" not in img.info:
        raise specs.Invalid({"mask": ["The mask needs an alpha channel: its fully transparent pixels mark where "
                                      "to edit, as in OpenAI's API."]})  # fmt: skip
    alpha = (img if img.mode in ("RGBA", "LA") else img.convert("RGBA")).getchannel("A")
    return imaging.png_bytes(alpha.point([255] + [0] * 255))


def _dimensions(data: bytes, field: str) -> tuple[int, int]:
    try:
        return imaging.dimensions(data)
    except imaging.ImageRejected as exc:
        raise specs.Invalid({field: [str(exc)]}) from exc


# --- the endpoints -----------------------------------------------------------------------------


@openai_view
@require_POST
def generations(request: HttpRequest) -> JsonResponse:
    payload = _json_body(request)
    _check_fields(set(payload), PROMPTED_FIELDS)
    response_format = _response_format(payload)
    model = _model(payload.get("model"))
    size = payload.get("size")
    image_request = specs.build(
        model=model.id,
        size=None if size in (None, "", "auto") else size,
        **_request_fields(model, payload, Operation.GENERATE),
    )
    return _answer(request, jobs.job_create(owner=request.user, request=image_request), response_format)


@openai_view
@require_POST
def edits(request: HttpRequest) -> JsonResponse:
    """With a mask, an inpaint (Atelier's `edit`); without, the whole image changed as the prompt
    says (`instruct`). Further `image[]` files are references. `size`, as in OpenAI's API, is the
    result's size, checked against the model like any size; the source is fitted to it without
    stretching (studio.editing). `auto` or none keeps the source's shape, fitted to the model."""
    values = _form_body(request, PROMPTED_FIELDS)
    response_format = _response_format(values)
    model = _model(values.get("model"))
    source, *references = _sources(request)
    mask = request.FILES.get("mask")  # an empty file is a mask that cannot be read, not none
    edit = editing.prepare(
        model=model.id,
        operation=Operation.EDIT if mask is not None else Operation.INSTRUCT,
        source=source,
        mask=atelier_mask(mask.read(), source) if mask is not None else None,
        references=references,
        size=_edit_size(values),
        **_request_fields(model, values, Operation.EDIT),
    )
    return _answer(request, jobs.job_create_edit(owner=request.user, edit=edit), response_format)


@openai_view
@require_POST
def variations(request: HttpRequest) -> JsonResponse:
    values = _form_body(request, COMMON_FIELDS)
    response_format = _response_format(values)
    model = _model(values.get("model"))
    source = _upload(request, "image")
    if not source:
        raise ApiError(400, "Send the image to vary as the file `image`.", param="image")
    edit = editing.prepare(
        model=model.id, operation=Operation.VARIATION, source=source, size=_edit_size(values),
        **_request_fields(model, values, Operation.VARIATION),
    )  # fmt: skip
    return _answer(request, jobs.job_create_edit(owner=request.user, edit=edit), response_format)


# --- answering ---------------------------------------------------------------------------------


def _answer(request: HttpRequest, job: Job, response_format: str) -> JsonResponse:
    """Wait for the job (up to COMPAT_WAIT_SECONDS), then answer as OpenAI's ImagesResponse."""
    try:
        job = results.wait_for(job.pk, settings.COMPAT_WAIT_SECONDS)
    except results.StillRunning as exc:
        raise ApiError(504, str(exc), code="job_timeout", job=exc.job_id) from None
    if failed := results.failure(job):
        raise ApiError(failed.status, failed.message, code=failed.code, job=job.pk)
    images = list(job.images.all())
    data = []
    for image in images:
        if response_format == "url":
            item = {"url": request.build_absolute_uri(reverse("gallery:file", args=[image.pk]))}
        else:
            item = {"b64_json": results.image_base64(image)}
        if image.revised_prompt:
            item["revised_prompt"] = image.revised_prompt
        data.append(item)
    body: dict[str, Any] = {
        "created": int(job.finished_at.timestamp()),
        "data": data,
        "size": f"{job.params['width']}x{job.params['height']}",
        "quality": job.params["quality"],
        "output_format": results.image_format(images[0]) if images else None,
        "atelier_job": job.pk,
    }
    if background := job.params.get("options", {}).get("background"):
        body["background"] = background
    if {"input_tokens", "output_tokens", "total_tokens"} <= set(job.usage):
        body["usage"] = job.usage
    return JsonResponse(body)
