"""Flux and other models on Replicate, through the official `replicate` SDK.

A prediction is created with `Prefer: wait` (the answer often arrives on that first call), then
polled; the user's cancel is forwarded; outputs (short-lived URLs) are downloaded right away."""

from __future__ import annotations

import base64
import functools
import io
import time
from typing import Any

import httpx
import replicate
from django.conf import settings
from PIL import Image
from replicate.exceptions import ReplicateError

from studio import catalog, downloads, imaging
from studio.catalog import Operation
from studio.providers.base import (
    Canceled,
    Check,
    ErrorKind,
    GeneratedImage,
    GenerationRequest,
    ProviderError,
    ProviderResult,
    retry_after,
)

OUTPUT_HOSTS = ("replicate.delivery", "*.replicate.delivery")
FINAL = {"succeeded", "failed", "canceled"}
POLL_SECONDS = 1.0
REFUSAL_WORDS = ("nsfw", "safety", "content policy", "flagged")


def _client() -> replicate.Client:
    conf = settings.PROVIDER_SETTINGS["replicate"]
    return _cached_client(conf["api_key"], conf["base_url"], settings.PROVIDER_TIMEOUT_SECONDS)


class _Throttled(Exception):
    def __init__(self, retry_after: float | None, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.detail = detail


def _throttled(response: httpx.Response) -> None:
    """httpx response hook: the SDK's ReplicateError drops headers, so read Retry-After here."""
    if response.status_code == 429:
        response.read()
        try:
            detail = str(response.json().get("detail") or "Replicate throttled the request.")
        except ValueError:
            detail = "Replicate throttled the request."
        raise _Throttled(retry_after(response.headers), detail)


@functools.lru_cache(maxsize=4)
def _cached_client(token: str, base_url: str, timeout: float) -> replicate.Client:
    # One client per configuration: building one costs ~50 ms (a fresh TLS context) per job.
    return replicate.Client(
        api_token=token, base_url=base_url, timeout=httpx.Timeout(timeout), event_hooks={"response": [_throttled]}
    )


def _data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def model_input(request: GenerationRequest) -> dict[str, Any]:
    """The prediction input: Replicate's names for the prompt, size and the model's options."""
    data: dict[str, Any] = {"prompt": request.prompt, "seed": request.seed, **request.options}
    image_input = request.model.provider_params.get("image_input")
    if request.operation == Operation.CONTROL:  # canny / depth: the source is the control image
        data[image_input] = _data_url(request.image or b"")
        return data
    if request.operation == Operation.VARIATION:  # redux: a new take on the source, no prompt
        del data["prompt"]
        data.update({image_input: _data_url(request.image or b""), "num_outputs": request.n})
        data["aspect_ratio"] = catalog.aspect_of(f"{request.width}x{request.height}") or "1:1"
        return data
    if request.operation in (Operation.EDIT, Operation.OUTPAINT):
        # Fill models take the (extended) image and a mask, white where it changes; no aspect ratio.
        mask = Image.open(io.BytesIO(request.mask or b"")).convert("L")
        data.update(image=_data_url(request.image or b""), mask=_data_url(imaging.mask_white_changes(mask)))
        return data
    data["aspect_ratio"] = catalog.aspect_of(f"{request.width}x{request.height}") or "1:1"
    if request.model.max_n > 1:
        data["num_outputs"] = request.n
    if request.operation == Operation.REMIX:
        # Each Flux model names its image-to-image inputs differently; the catalog says which.
        image_key, strength_key = request.model.provider_params["remix_fields"].split(",")
        strength = request.strength if request.strength is not None else 0.6
        data.update({image_key: _data_url(request.image or b""), strength_key: strength})
    return data


def _error(exc: ReplicateError) -> ProviderError:
    message = exc.detail or exc.title or "Replicate refused the request."
    status = exc.status or 0
    if status in (401, 403):
        return ProviderError(ErrorKind.AUTH, f"Replicate refused the API token: {message}")
    if status >= 500:
        return ProviderError(ErrorKind.UNAVAILABLE, f"Replicate is having trouble ({status}): {message}")
    return ProviderError(ErrorKind.INVALID_REQUEST, message)


def generate(request: GenerationRequest) -> ProviderResult:
    model = request.model
    if request.operation not in model.operations:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"{model.label} cannot {request.operation} in Atelier.")
    client = _client()
    data = model_input(request)
    deadline = time.monotonic() + settings.PROVIDER_TIMEOUT_SECONDS
    try:
        prediction = client.models.predictions.create(
            model=model.provider_params["replicate_model"], input=data, wait=settings.REPLICATE_WAIT_SECONDS
        )
        while prediction.status not in FINAL:
            if not request.progress(prediction.id, None):
                client.predictions.cancel(prediction.id)
                raise Canceled
            if time.monotonic() > deadline:
                client.predictions.cancel(prediction.id)
                limit = settings.PROVIDER_TIMEOUT_SECONDS
                raise ProviderError(ErrorKind.TIMEOUT, f"Replicate did not finish in {limit:.0f} s.")
            time.sleep(POLL_SECONDS)
            prediction.reload()
    except ReplicateError as exc:
        raise _error(exc) from exc
    except _Throttled as exc:
        raise ProviderError(ErrorKind.RATE_LIMITED, exc.detail, retry_after=exc.retry_after) from exc
    except httpx.TimeoutException as exc:
        raise ProviderError(ErrorKind.TIMEOUT, "Replicate did not answer in time.") from exc
    except httpx.HTTPError as exc:
        raise ProviderError(ErrorKind.UNAVAILABLE, "Could not reach Replicate.") from exc
    request.progress(prediction.id, 100 if prediction.status == "succeeded" else None)
    if prediction.status == "canceled":
        raise Canceled
    if prediction.status == "failed":
        message = str(prediction.error or "The prediction failed.")
        kind = (
            ErrorKind.CONTENT_POLICY if any(w in message.lower() for w in REFUSAL_WORDS) else ErrorKind.INVALID_REQUEST
        )
        raise ProviderError(kind, message)
    urls = prediction.output if isinstance(prediction.output, list) else [prediction.output]
    images = [
        GeneratedImage(downloads.download(str(url), allowed_hosts=OUTPUT_HOSTS), seed=request.seed)
        for url in urls
        if url
    ]
    if not images:
        raise ProviderError(ErrorKind.UNAVAILABLE, "Replicate finished without an image.")
    usage = {"predict_time": (prediction.metrics or {}).get("predict_time"), "prediction": prediction.id}
    return ProviderResult(images=images, provider_job_id=prediction.id, usage=usage)


def check() -> Check:
    """GET /v1/account: cheap, and it proves both the address and the token."""
    try:
        account = _client().accounts.current()
    except ReplicateError as exc:
        return Check(False, _error(exc).message)
    except httpx.HTTPError:
        return Check(False, "Could not reach Replicate.")
    return Check(True, f"Reachable; signed in as {account.username}.")
