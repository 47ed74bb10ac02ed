"""Flux and other models on Replicate, through the official `replicate` SDK.

A prediction is created with `Prefer: wait` (the answer often arrives on that first call), then
polled; the user's cancel is forwarded; outputs (short-lived URLs) are downloaded right away."""

from __future__ import annotations

import base64
import functools
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import replicate
from django.conf import settings
from replicate.exceptions import ReplicateError
from replicate.prediction import Prediction

from studio import downloads, imaging
from studio.catalog import Operation
from studio.providers import http
from studio.providers.base import (
    Check,
    ErrorKind,
    GeneratedImage,
    Progress,
    ProviderError,
    ProviderResult,
    keep_going,
    mask_image,
    read_input,
    reference_pngs,
)
from studio.specs import ImageRequest

LABEL = "Replicate"
OUTPUT_HOSTS = ("replicate.delivery", "*.replicate.delivery")
FINAL = {"succeeded", "failed", "canceled"}
POLL_SECONDS = 1.0
REFUSAL_WORDS = ("nsfw", "safety", "content policy", "flagged")
PROGRESS_BAR = re.compile(r"(\d{1,3})%\|")  # tqdm: " 50%|█████     | 2/4 [...]"

T = TypeVar("T")


def _client() -> replicate.Client:
    conf = settings.PROVIDER_SETTINGS["replicate"]
    return _cached_client(conf["api_key"], conf["base_url"], settings.PROVIDER_TIMEOUT_SECONDS)


def _raise_for_status(response: httpx.Response) -> None:
    """httpx response hook: the SDK's ReplicateError drops the headers (Retry-After), so every
    error answer is turned into Atelier's error here, before the SDK sees it."""
    if response.status_code < 400:
        return
    response.read()
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    message = str(body.get("detail") or body.get("title") or "Replicate refused the request.")
    raise http.error_for_status(LABEL, response.status_code, message, response.headers, credential="API token")


@functools.lru_cache(maxsize=4)
def _cached_client(token: str, base_url: str, timeout: float) -> replicate.Client:
    # One client per configuration: building one costs ~50 ms (a fresh TLS context) per job. The
    # plain transport mounted for every URL replaces the SDK's own retrying one: Atelier's poll
    # loop retries within the job's deadline, so the SDK must not retry as well.
    return replicate.Client(
        api_token=token,
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        event_hooks={"response": [_raise_for_status]},
        mounts={"all://": httpx.HTTPTransport()},
    )


def _api(call: Callable[[], T]) -> T:
    """One SDK call, every way it can fail as Atelier's error."""
    try:
        return call()
    except ReplicateError as exc:  # only if an error answer slipped past the hook
        raise http.error_for_status(
            LABEL, exc.status or 500, exc.detail or exc.title or "", credential="API token"
        ) from exc
    except httpx.TimeoutException as exc:
        raise http.too_slow(LABEL, exc) from exc
    except httpx.HTTPError as exc:
        raise http.unreachable(LABEL, exc) from exc
    except (ValueError, TypeError) as exc:  # a 2xx whose body is not a prediction (JSON or pydantic)
        raise http.unreadable(LABEL) from exc


def _data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def model_input(request: ImageRequest) -> dict[str, Any]:
    """The prediction input: the catalog's wire says each model's names for the image inputs."""
    model, wire, op = request.model, request.model.wire, request.operation
    data: dict[str, Any] = {"prompt": request.prompt, "seed": request.seed, **request.wire_options()}
    if wire.aspect_input:
        # The preset aspect closest to the request's size: an edit fitted to 1000×1504 is "2:3".
        data[wire.aspect_input] = model.aspect_for(request.size)
    if wire.outputs_input:
        data[wire.outputs_input] = request.n
    if op == Operation.GENERATE:
        return data
    source = _data_url(read_input(request.inputs.source))
    if op in (Operation.EDIT, Operation.OUTPAINT):
        # Fill models take the (extended) image and a mask, white where it changes.
        data.update(image=source, mask=_data_url(imaging.mask_white_changes(mask_image(request))))
    elif op == Operation.VARIATION:  # redux: a new take on the source, no prompt
        del data["prompt"]
        data[wire.image_input] = source
    elif op == Operation.INSTRUCT:
        if wire.images_input:
            data[wire.images_input] = [source, *(_data_url(ref) for ref in reference_pngs(request))]
        else:
            data[wire.image_input] = source
        data[wire.aspect_input] = wire.match_input_aspect
    elif op == Operation.REMIX:
        strength = request.edit.strength
        data.update({wire.image_input: source, wire.strength_input: 1 - strength if wire.invert_strength else strength})
    elif op == Operation.CONTROL:
        data[wire.image_input] = source
    else:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"{model.label} cannot {op} in Atelier.")
    return data


def generate(request: ImageRequest, progress: Progress = keep_going) -> ProviderResult:
    model = request.model
    if request.operation not in model.operations:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"{model.label} cannot {request.operation} in Atelier.")
    client = _client()
    data = model_input(request)
    deadline = time.monotonic() + settings.PROVIDER_JOB_DEADLINE_SECONDS
    # The paid call: its failure is the job's (retried by the runner); after it, only polls.
    created = _api(
        lambda: client.models.predictions.create(
            model=model.wire.model, input=data, wait=settings.REPLICATE_WAIT_SECONDS
        )
    )
    # A finished prediction whose output cannot be read is fetched again, not taken as it is.
    return _collect(client, request, created.id, deadline, progress, initial=created if _readable(created) else None)


def resume(request: ImageRequest, provider_job_id: str, progress: Progress = keep_going) -> ProviderResult:
    """The result of a prediction created earlier (by a worker that died, or a job that stopped
    waiting for it): polled, not bought again. One that already succeeded is downloaded; one that
    failed or was canceled is that prediction's error, never a reason to buy it again."""
    deadline = time.monotonic() + settings.PROVIDER_JOB_DEADLINE_SECONDS
    return _collect(_client(), request, provider_job_id, deadline, progress)


def _collect(
    client: replicate.Client,
    request: ImageRequest,
    prediction_id: str,
    deadline: float,
    progress: Progress,
    initial: Prediction | None = None,
) -> ProviderResult:
    def fetch() -> Prediction:
        prediction = _api(lambda: client.predictions.get(prediction_id))
        if not _readable(prediction):
            raise http.unreadable(LABEL)
        return prediction

    prediction = http.poll(
        fetch,
        provider=LABEL,
        deadline=deadline,
        progress=progress,
        provider_job_id=prediction_id,
        interval=POLL_SECONDS,
        is_done=lambda p: p.status in FINAL,
        percent=_percent,
        cancel=lambda: _api(lambda: client.predictions.cancel(prediction_id)),
        initial=initial,
    )
    return _result(request, prediction)


def _readable(prediction: Prediction) -> bool:
    """Whether a succeeded prediction's output is what the API promises: a URL, or a list of them
    (the SDK checks every other field, but takes any output)."""
    if prediction.status != "succeeded":
        return True
    output = prediction.output
    return all(isinstance(url, str) for url in (output if isinstance(output, list) else [output]) if url)


def _percent(prediction: Prediction) -> int | None:
    """Done, or the last percentage of the progress bar the model prints in its logs (FLUX
    models print a tqdm bar per denoising step); None where the logs say nothing."""
    if prediction.status == "succeeded":
        return 100
    found = PROGRESS_BAR.findall(prediction.logs or "")
    return int(found[-1]) if found else None


def _result(request: ImageRequest, prediction: Prediction) -> ProviderResult:
    if prediction.status == "canceled":
        # Canceled on Replicate's side (at a deadline, or by someone there); the user's own cancel
        # never gets here (poll raises Canceled). Not retried: nothing was made to collect.
        raise ProviderError(
            ErrorKind.INVALID_REQUEST, f"Replicate canceled prediction {prediction.id} before it made an image."
        )
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
        # Nothing to collect, now or later: none was made, or Replicate deleted it (it keeps the
        # outputs of API predictions for about an hour).
        raise http.AfterPurchase(
            ErrorKind.UNAVAILABLE,
            f"Replicate finished prediction {prediction.id} without an image, or no longer holds it (it deletes "
            "outputs after about an hour).",
            result_held=False,
        )
    usage = {"predict_time": (prediction.metrics or {}).get("predict_time"), "prediction": prediction.id}
    return ProviderResult(images=images, provider_job_id=prediction.id, usage=usage)


def check() -> Check:
    """GET /v1/account: cheap, and it proves both the address and the token."""
    try:
        account = _api(lambda: _client().accounts.current())
    except ProviderError as exc:
        return Check(False, exc.message)
    return Check(True, f"Reachable; signed in as {account.username}.")
