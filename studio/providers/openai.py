"""OpenAI Images — and OpenAI-compatible servers — through the official `openai` SDK."""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
from typing import Any

from django.conf import settings
from openai import APIConnectionError, APIResponseValidationError, APIStatusError, APITimeoutError, OpenAI
from PIL import Image

from studio import imaging
from studio.catalog import Operation
from studio.providers.base import (
    Check,
    ErrorKind,
    GeneratedImage,
    GenerationRequest,
    ProviderError,
    ProviderResult,
    retry_after,
)

REFUSALS = {"moderation_blocked", "content_policy_violation"}
UNREADABLE = "OpenAI sent a response Atelier could not read."
REQUEST_FIELDS = {"response_format"}


def _client() -> OpenAI:
    conf = settings.PROVIDER_SETTINGS["openai"]
    return _cached_client(conf["api_key"], conf["base_url"], settings.PROVIDER_TIMEOUT_SECONDS)


@functools.lru_cache(maxsize=4)
def _cached_client(api_key: str, base_url: str, timeout: float) -> OpenAI:
    # One client per configuration (a new one costs a fresh TLS context). Atelier retries with
    # backoff that honours Retry-After, so the SDK must not retry as well.
    return OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)


def _png(data: bytes) -> tuple[str, bytes, str]:
    return ("image.png", data, "image/png")


def _call(request: GenerationRequest) -> Any:
    client = _client()
    model = request.model
    # Request fields the catalog fixes per model (DALL-E's response_format); other provider_params
    # are Atelier's own (max_references).
    fixed = {key: value for key, value in model.provider_params.items() if key in REQUEST_FIELDS}
    common: dict[str, Any] = {"model": model.id, "n": request.n, **fixed}
    size = f"{request.width}x{request.height}"
    if request.operation == Operation.GENERATE:
        return client.images.generate(
            prompt=request.prompt, size=size, quality=request.quality, **request.options, **common
        )
    source = Image.open(io.BytesIO(request.image or b""))
    if request.operation == Operation.EDIT:
        mask = Image.open(io.BytesIO(request.mask or b"")).convert("L")
        if model.id == "dall-e-2":
            image_png, mask_png = imaging.dall_e_2_edit(source, mask)
        else:
            image_png, mask_png = imaging.png_bytes(source.convert("RGB")), imaging.mask_for_openai(mask)
        # Reference images go after the edited one (sent as image[]); the mask applies to the first.
        images = [_png(image_png), *(_png(ref) for ref in request.references)]
        return client.images.edit(
            image=images if len(images) > 1 else images[0],
            mask=_png(mask_png),
            prompt=request.prompt,
            size=size,
            **common,
        )
    if request.operation == Operation.VARIATION:
        # Deprecated in the SDK since DALL-E 2 left OpenAI's API; compatible servers still serve it.
        return client.images.create_variation(image=_png(imaging.dall_e_2_image(source)), size=size, **common)
    raise ProviderError(ErrorKind.INVALID_REQUEST, f"OpenAI models cannot {request.operation} in Atelier.")


def _error(exc: APIStatusError) -> ProviderError:
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    message = detail.get("message") or exc.message
    status = exc.status_code
    if status == 400 and (exc.code in REFUSALS or detail.get("code") in REFUSALS):
        return ProviderError(ErrorKind.CONTENT_POLICY, message)
    if status in (401, 403):
        return ProviderError(ErrorKind.AUTH, f"OpenAI refused the API key: {message}")
    if status == 429:
        return ProviderError(ErrorKind.RATE_LIMITED, message, retry_after=retry_after(exc.response.headers))
    if status >= 500 or status in (408, 409):
        return ProviderError(ErrorKind.UNAVAILABLE, f"OpenAI is having trouble ({status}): {message}")
    return ProviderError(ErrorKind.INVALID_REQUEST, message)


def generate(request: GenerationRequest) -> ProviderResult:
    try:
        response = _call(request)
    except imaging.MaskRejected as exc:
        raise ProviderError(ErrorKind.INVALID_REQUEST, str(exc)) from exc
    except APIStatusError as exc:
        raise _error(exc) from exc
    except APITimeoutError as exc:
        raise ProviderError(ErrorKind.TIMEOUT, "OpenAI did not answer in time.") from exc
    except APIConnectionError as exc:
        raise ProviderError(ErrorKind.UNAVAILABLE, "Could not reach the OpenAI server.") from exc
    except (APIResponseValidationError, json.JSONDecodeError) as exc:
        raise ProviderError(ErrorKind.UNAVAILABLE, UNREADABLE) from exc
    try:
        images = [
            GeneratedImage(
                data=base64.b64decode(item.b64_json, validate=True), revised_prompt=item.revised_prompt or ""
            )
            for item in response.data or []
        ]
    except (AttributeError, TypeError, binascii.Error) as exc:  # e.g. an HTML error page with status 200
        raise ProviderError(ErrorKind.UNAVAILABLE, UNREADABLE) from exc
    if not images:
        raise ProviderError(ErrorKind.UNAVAILABLE, "OpenAI answered without any image.")
    usage = response.usage.model_dump() if getattr(response, "usage", None) else {}
    return ProviderResult(images=images, provider_job_id=getattr(response, "_request_id", None) or "", usage=usage)


def check() -> Check:
    """List the models: cheap, and it proves both the address and the key."""
    try:
        count = len(_client().with_options(timeout=5).models.list().data)
    except APIStatusError as exc:
        return Check(False, _error(exc).message)
    except (APIConnectionError, APIResponseValidationError, json.JSONDecodeError):
        return Check(False, "Could not reach the server, or it is not an OpenAI API.")
    return Check(True, f"Reachable; the key works ({count} models listed).")
