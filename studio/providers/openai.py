"""OpenAI Images — and OpenAI-compatible servers — through the official `openai` SDK."""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import io
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from openai import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BaseModel,
    OpenAI,
    Stream,
)
from openai.resources.images import Images
from openai.types import Image as ImageData
from openai.types import ImagesResponse
from openai.types.images_response import Usage
from PIL import Image as PILImage

from studio import imaging
from studio.catalog import Model, Operation
from studio.providers import http
from studio.providers.base import (
    Canceled,
    Check,
    ErrorKind,
    GeneratedImage,
    Progress,
    ProviderError,
    ProviderResult,
    keep_going,
    mask_image,
    reference_pngs,
    source_image,
)
from studio.specs import ImageRequest

LABEL = "OpenAI"
REFUSALS = {"moderation_blocked", "content_policy_violation"}


def _client() -> OpenAI:
    conf = settings.PROVIDER_SETTINGS["openai"]
    return _cached_client(conf["api_key"], conf["base_url"], settings.PROVIDER_TIMEOUT_SECONDS)


@functools.lru_cache(maxsize=4)
def _cached_client(api_key: str, base_url: str, timeout: float) -> OpenAI:
    # One client per configuration (a new one costs a fresh TLS context). Atelier retries with
    # backoff that honours Retry-After, so the SDK must not retry as well.
    return OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)


@functools.cache
def _sdk_parameters(method: str) -> frozenset[str]:
    return frozenset(inspect.signature(getattr(Images, method)).parameters)


def _arguments(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The SDK method's own arguments; parameters the API takes that the installed SDK does not
    name yet (`moderation` on edits) travel in the request body as they are."""
    known = _sdk_parameters(method)
    arguments = {k: v for k, v in params.items() if k in known}
    if extra := {k: v for k, v in params.items() if k not in known}:
        arguments["extra_body"] = extra
    return arguments


def _png(data: bytes) -> tuple[str, bytes, str]:
    return ("image.png", data, "image/png")


def _call(request: ImageRequest) -> Any:
    client = _client()
    model = request.model
    # Every setting the request carries goes on the wire, for edits as for generations; retired
    # DALL·E shapes add their response_format.
    common: dict[str, Any] = {
        "model": model.id,
        "n": request.n,
        "size": request.size.value,
        "quality": request.quality,
        **request.wire_options(),
    }
    if model.wire.response_format:
        common["response_format"] = model.wire.response_format
    if _streams(request):
        common.update(stream=True, partial_images=settings.OPENAI_PARTIAL_IMAGES)
    if request.operation == Operation.GENERATE:
        return client.images.generate(**_arguments("generate", {"prompt": request.prompt, **common}))
    source = source_image(request)
    if request.operation in (Operation.EDIT, Operation.INSTRUCT):
        images = [_png(imaging.png_bytes(source.convert("RGB")))]
        extra: dict[str, Any] = {}
        if request.operation == Operation.EDIT:
            mask = mask_image(request)
            if model.id == "dall-e-2":
                image_png, mask_png = imaging.dall_e_2_edit(source, mask)
                images = [_png(image_png)]
            else:
                mask_png = imaging.mask_for_openai(mask)
            extra["mask"] = _png(mask_png)  # applies to the first image
        # Reference images go after the edited one (sent as image[]).
        images += [_png(ref) for ref in reference_pngs(request)]
        image = images if len(images) > 1 else images[0]
        return client.images.edit(**_arguments("edit", {"image": image, "prompt": request.prompt, **extra, **common}))
    if request.operation == Operation.VARIATION:
        # Deprecated in the SDK since DALL-E 2 left OpenAI's API; compatible servers still serve it.
        del common["quality"]  # variations have no quality
        image = _png(imaging.dall_e_2_image(source))
        return client.images.create_variation(**_arguments("create_variation", {"image": image, **common}))
    raise ProviderError(ErrorKind.INVALID_REQUEST, f"OpenAI models cannot {request.operation} in Atelier.")


def _error(exc: APIStatusError) -> ProviderError:
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    refused = exc.status_code == 400 and (exc.code in REFUSALS or detail.get("code") in REFUSALS)
    message = detail.get("message") or exc.message
    return http.error_for_status(LABEL, exc.status_code, message, exc.response.headers, refused=refused)


def _send(request: ImageRequest) -> Any:
    """The SDK call, every way it can fail as Atelier's error."""
    try:
        return _call(request)
    except imaging.MaskRejected as exc:
        raise ProviderError(ErrorKind.INVALID_REQUEST, str(exc)) from exc
    except APIStatusError as exc:
        raise _error(exc) from exc
    except APITimeoutError as exc:
        raise http.too_slow(LABEL, exc) from exc
    except APIConnectionError as exc:
        raise http.unreachable(LABEL, exc) from exc
    except (APIResponseValidationError, json.JSONDecodeError) as exc:
        raise http.unreadable(LABEL) from exc


def _streams(request: ImageRequest) -> bool:
    """Previews are opt-in (OPENAI_PARTIAL_IMAGES, since OpenAI bills each partial image), for one
    image at a time, from the models and operations that stream them."""
    return (
        settings.OPENAI_PARTIAL_IMAGES > 0
        and request.n == 1
        and request.model.wire.partial_images
        and request.operation in (Operation.GENERATE, Operation.EDIT, Operation.INSTRUCT)
    )


def _streamed(stream: Stream[Any], progress: Progress) -> ImagesResponse:
    """Read the event stream: partial images go to `progress` as previews; the completed event is
    the result, in the shape of a plain response. The image is bought once the request is sent,
    so a stream that breaks off may have been paid for."""
    request_id = stream.response.headers.get("x-request-id") or ""
    try:
        with stream:
            for event in stream:
                if event.type.endswith(".partial_image"):
                    preview = base64.b64decode(event.b64_json, validate=True)
                    if not progress(request_id, None, preview=preview):
                        raise Canceled
                elif event.type.endswith(".completed"):
                    # The image is what was paid for: taken as it came, the rest (a compatible
                    # server may leave out the time or the usage) only if it is there.
                    return ImagesResponse.model_construct(
                        created=getattr(event, "created_at", None) or 0,
                        data=[ImageData(b64_json=event.b64_json)],
                        usage=getattr(event, "usage", None),
                    )
    except (APIError, binascii.Error, AttributeError) as exc:
        raise ProviderError(
            ErrorKind.UNAVAILABLE, "OpenAI's image stream broke off before the image.", may_be_paid=True
        ) from exc
    raise ProviderError(ErrorKind.UNAVAILABLE, "OpenAI's image stream ended without the image.", may_be_paid=True)


def generate(request: ImageRequest, progress: Progress = keep_going) -> ProviderResult:
    response = _send(request)
    if isinstance(response, Stream):
        response = _streamed(response, progress)
    try:
        images = [
            GeneratedImage(data=_image(item.b64_json), revised_prompt=_text(getattr(item, "revised_prompt", None)))
            for item in response.data or []
        ]
    except (AttributeError, TypeError) as exc:  # e.g. an HTML error page with status 200
        raise http.unreadable(LABEL) from exc
    if not images:
        raise ProviderError(ErrorKind.UNAVAILABLE, "OpenAI answered without any image.", may_be_paid=True)
    # The SDK does not validate answers: a usage that is not one is left out (the images are paid
    # for and kept, priced from the catalog).
    usage = getattr(response, "usage", None)
    usage = usage if isinstance(usage, BaseModel) else None
    return ProviderResult(
        images=images,
        provider_job_id=getattr(response, "_request_id", None) or "",
        usage=usage.model_dump() if usage else {},
        cost=usage_cost(request.model, usage),
    )


def _image(b64_json: Any) -> bytes:
    """An image from the answer's base64. Nothing, text or bytes that are not an image at all make
    an answer Atelier could not read (the image may have been paid for); an image it cannot use
    (too large, an unsupported format) is refused later, as every result is."""
    if not isinstance(b64_json, str) or not b64_json:
        raise http.unreadable(LABEL)
    try:
        data = base64.b64decode(b64_json, validate=True)
        PILImage.open(io.BytesIO(data))  # the header only
    except PILImage.DecompressionBombError:
        pass  # an image all the same
    except (ValueError, OSError, SyntaxError) as exc:  # binascii.Error; UnidentifiedImageError
        raise http.unreadable(LABEL) from exc
    return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def usage_cost(model: Model, usage: Usage | None) -> Decimal | None:
    """USD for the tokens the answer's `usage` counts, at the catalog's rates; None where the
    answer has no usage (DALL·E shapes, some compatible servers), one that counts no output, or
    the model no token rates."""
    rates = model.pricing.tokens if model.pricing else None
    if usage is None or rates is None:
        return None
    # The SDK does not validate answers: a compatible server may leave the details out.
    inputs, outputs = getattr(usage, "input_tokens_details", None), getattr(usage, "output_tokens_details", None)
    if not _count(usage, "output_tokens") and not (outputs and _count(outputs, "image_tokens")):
        return None  # no image counted is no usage at all: the catalog's price stands, not $0
    return rates.cost(
        # Without the split, input counts as text and output as image: the cheaper and the dearer rate.
        text_input=_count(inputs, "text_tokens") if inputs else _count(usage, "input_tokens"),
        image_input=_count(inputs, "image_tokens"),
        image_output=_count(outputs, "image_tokens") if outputs else _count(usage, "output_tokens"),
        text_output=_count(outputs, "text_tokens"),
    )


def _count(part: Any, name: str) -> int:
    """A token count from the answer; a missing or malformed one counts 0 (the images are paid for
    and kept either way)."""
    value = getattr(part, name, 0)
    return value if isinstance(value, int) and value >= 0 else 0


def check() -> Check:
    """List the models: cheap, and it proves both the address and the key."""
    try:
        count = len(_client().with_options(timeout=5).models.list().data)
    except APIStatusError as exc:
        return Check(False, _error(exc).message)
    except (APIConnectionError, APIResponseValidationError, json.JSONDecodeError):
        return Check(False, "Could not reach the server, or it is not an OpenAI API.")
    return Check(True, f"Reachable; the key works ({count} models listed).")
