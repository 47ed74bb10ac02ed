"""Stability AI over its REST API (`requests`): v1 for SDXL 1.0, v2beta for Stable Image.

v1: text-to-image (JSON), image-to-image and masking (multipart), ESRGAN x2 upscale.
v2beta: generate ultra/core/sd3; inpaint, outpaint, erase, search-and-replace; control
structure/sketch and style; the fast and conservative upscalers, and the asynchronous creative
one (polled at /v2beta/results/{id})."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import requests
from django.conf import settings
from PIL import Image

from studio import catalog, imaging
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

POLL_SECONDS = 1.0
FILTERED = "CONTENT_FILTERED"
TOOLS = {Operation.OUTPAINT, Operation.ERASE, Operation.SEARCH_REPLACE, Operation.CONTROL, Operation.STYLE}


def _session() -> tuple[requests.Session, str]:
    conf = settings.PROVIDER_SETTINGS["stability"]
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {conf['api_key']}", "Accept": "application/json"})
    return session, conf["base_url"].rstrip("/")


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    errors = body.get("errors")
    return "; ".join(map(str, errors)) if errors else str(body.get("message") or body.get("name") or body)


def _check(response: requests.Response) -> dict[str, Any]:
    status = response.status_code
    if status in (200, 202):
        try:
            return response.json()
        except ValueError:
            raise ProviderError(ErrorKind.UNAVAILABLE, "Stability sent a response Atelier could not read.") from None
    message = _message(response)
    if status in (401, 403) and "moderation" not in message.lower():
        raise ProviderError(ErrorKind.AUTH, f"Stability refused the API key: {message}")
    if status == 403:
        raise ProviderError(ErrorKind.CONTENT_POLICY, message)
    if status == 429:
        raise ProviderError(ErrorKind.RATE_LIMITED, message, retry_after=retry_after(response.headers))
    if status >= 500:
        raise ProviderError(ErrorKind.UNAVAILABLE, f"Stability is having trouble ({status}): {message}")
    raise ProviderError(ErrorKind.INVALID_REQUEST, message)


def _post(session: requests.Session, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return _check(session.post(url, timeout=settings.PROVIDER_TIMEOUT_SECONDS, **kwargs))
    except requests.Timeout as exc:
        raise ProviderError(ErrorKind.TIMEOUT, "Stability did not answer in time.") from exc
    except requests.ConnectionError as exc:
        raise ProviderError(ErrorKind.UNAVAILABLE, "Could not reach Stability.") from exc


def _image(b64: str, seed: Any, finish: str) -> GeneratedImage:
    if finish == FILTERED:
        raise ProviderError(ErrorKind.CONTENT_POLICY, "Stability's content filter blocked the result.")
    return GeneratedImage(base64.b64decode(b64), seed=int(seed) if seed is not None else None)


def _png(data: bytes | None) -> bytes:
    return imaging.png_bytes(Image.open(io.BytesIO(data or b"")).convert("RGB"))


# --- v1 (SDXL) -----------------------------------------------------------------------------------


def _v1_fields(request: GenerationRequest) -> dict[str, Any]:
    options = request.options
    fields: dict[str, Any] = {
        "cfg_scale": options.get("cfg_scale", 7),
        "samples": request.n,
        "steps": options.get("steps", 30),
        "seed": request.seed,
        "sampler": options.get("sampler", "K_DPMPP_2M"),
    }
    if options.get("style_preset", "none") != "none":
        fields["style_preset"] = options["style_preset"]
    return fields


def _v1_prompts(request: GenerationRequest) -> list[dict[str, Any]]:
    prompts = [{"text": request.prompt, "weight": 1}]
    if request.negative_prompt:
        prompts.append({"text": request.negative_prompt, "weight": -1})
    return prompts


def _v1_multipart(request: GenerationRequest) -> dict[str, Any]:
    data: dict[str, Any] = {k: str(v) for k, v in _v1_fields(request).items()}
    for i, prompt in enumerate(_v1_prompts(request)):
        data[f"text_prompts[{i}][text]"] = prompt["text"]
        data[f"text_prompts[{i}][weight]"] = str(prompt["weight"])
    return data


def _v1(request: GenerationRequest, session: requests.Session, base: str) -> list[GeneratedImage]:
    engine = request.model.provider_params["engine"]
    op = request.operation
    if op == Operation.GENERATE:
        body = {"text_prompts": _v1_prompts(request), "width": request.width, "height": request.height,
                **_v1_fields(request)}  # fmt: skip
        answer = _post(session, f"{base}/v1/generation/{engine}/text-to-image", json=body)
    elif op == Operation.REMIX:
        strength = request.strength if request.strength is not None else 0.6
        # v1's image_strength is how much of the source survives: the opposite of Atelier's strength.
        data = {**_v1_multipart(request), "init_image_mode": "IMAGE_STRENGTH", "image_strength": f"{1 - strength:.3f}"}
        files = {"init_image": ("init.png", _png(request.image), "image/png")}
        answer = _post(session, f"{base}/v1/generation/{engine}/image-to-image", data=data, files=files)
    elif op == Operation.EDIT:
        mask_png, source = imaging.mask_for_stability_v1(Image.open(io.BytesIO(request.mask or b"")).convert("L"))
        files = {
            "init_image": ("init.png", _png(request.image), "image/png"),
            "mask_image": ("mask.png", mask_png, "image/png"),
        }
        data = {**_v1_multipart(request), "mask_source": source}
        answer = _post(session, f"{base}/v1/generation/{engine}/image-to-image/masking", data=data, files=files)
    elif op == Operation.UPSCALE:
        source = Image.open(io.BytesIO(request.image or b""))
        files = {"image": ("image.png", _png(request.image), "image/png")}
        answer = _post(session, f"{base}/v1/generation/esrgan-v1-x2plus/image-to-image/upscale",
                       data={"width": str(source.width * 2)}, files=files)  # fmt: skip
    else:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"SDXL cannot {op} in Atelier.")
    return [_image(a.get("base64", ""), a.get("seed"), a.get("finishReason", "")) for a in answer.get("artifacts", [])]


# --- v2beta (Stable Image) -------------------------------------------------------------------------


def _v2_generate(request: GenerationRequest, session: requests.Session, base: str, seed: int) -> GeneratedImage:
    endpoint = request.model.provider_params["endpoint"]
    path, _, sd3_model = endpoint.partition(":")
    data: dict[str, Any] = {
        "prompt": request.prompt,
        "aspect_ratio": catalog.aspect_of(f"{request.width}x{request.height}") or "1:1",
        "seed": str(seed),
        "output_format": request.options.get("output_format", "png"),
    }
    if request.negative_prompt:
        data["negative_prompt"] = request.negative_prompt
    if request.options.get("style_preset", "none") != "none":
        data["style_preset"] = request.options["style_preset"]
    if sd3_model:
        data["model"] = sd3_model
    files: dict[str, Any] = {"none": ("", b"")}  # v2beta wants multipart even with only fields
    if request.operation == Operation.REMIX:
        data.pop("aspect_ratio")  # image-to-image keeps the source's proportions
        if sd3_model:
            data["mode"] = "image-to-image"
        data["strength"] = str(request.strength if request.strength is not None else 0.6)
        files = {"image": ("image.png", _png(request.image), "image/png")}
    answer = _post(session, f"{base}/v2beta/stable-image/generate/{path}", data=data, files=files)
    return _image(answer.get("image", ""), answer.get("seed"), answer.get("finish_reason", ""))


def _v2_edit(request: GenerationRequest, session: requests.Session, base: str) -> GeneratedImage:
    mask = imaging.mask_white_changes(Image.open(io.BytesIO(request.mask or b"")).convert("L"))
    files = {"image": ("image.png", _png(request.image), "image/png"), "mask": ("mask.png", mask, "image/png")}
    data = {"prompt": request.prompt, "seed": str(request.seed), "output_format": "png"}
    if request.negative_prompt:
        data["negative_prompt"] = request.negative_prompt
    answer = _post(session, f"{base}/v2beta/stable-image/edit/inpaint", data=data, files=files)
    return _image(answer.get("image", ""), answer.get("seed"), answer.get("finish_reason", ""))


def _v2_tool(request: GenerationRequest, session: requests.Session, base: str) -> GeneratedImage:
    """Outpaint, erase, search-and-replace, control and style: one source image, one result."""
    op, edit = request.operation, request.edit_settings
    image = Image.open(io.BytesIO(request.image or b"")).convert("RGB")
    data: dict[str, Any] = {"output_format": "png", "seed": str(request.seed)}
    if op != Operation.ERASE:  # erase fills from the surroundings: no prompt
        data["prompt"] = request.prompt
        if request.negative_prompt:
            data["negative_prompt"] = request.negative_prompt
    files: dict[str, Any] = {}
    if op == Operation.OUTPAINT:
        # Stability extends the original itself: send it, and how far to go on each side.
        extend = edit.get("extend", {})
        left, top = extend.get("left", 0), extend.get("top", 0)
        right, bottom = extend.get("right", 0), extend.get("bottom", 0)
        image = image.crop((left, top, image.width - right, image.height - bottom))
        data.update(left=str(left), right=str(right), up=str(top), down=str(bottom))
        path = "edit/outpaint"
    elif op == Operation.ERASE:
        mask = Image.open(io.BytesIO(request.mask or b"")).convert("L")
        files["mask"] = ("mask.png", imaging.mask_white_changes(mask), "image/png")
        path = "edit/erase"
    elif op == Operation.SEARCH_REPLACE:
        data["search_prompt"] = edit.get("search_prompt", "")
        path = "edit/search-and-replace"
    elif op == Operation.CONTROL:
        data["control_strength"] = str(edit.get("control_strength", 0.7))
        path = f"control/{edit.get('control_kind', 'structure')}"
    else:  # STYLE
        data["fidelity"] = str(edit.get("fidelity", 0.5))
        path = "control/style"
    files["image"] = ("image.png", imaging.png_bytes(image), "image/png")
    answer = _post(session, f"{base}/v2beta/stable-image/{path}", data=data, files=files)
    return _image(answer.get("image", ""), answer.get("seed"), answer.get("finish_reason", ""))


def _v2_upscale(request: GenerationRequest, session: requests.Session, base: str) -> GeneratedImage:
    files = {"image": ("image.png", _png(request.image), "image/png")}
    upscaler = request.model.provider_params.get("upscale", "fast")
    if upscaler in ("fast", "conservative"):
        data = {"output_format": "png"}
        if upscaler == "conservative":
            data["prompt"] = request.prompt or "a high resolution photograph"
        answer = _post(session, f"{base}/v2beta/stable-image/upscale/{upscaler}", data=data, files=files)
        return _image(answer.get("image", ""), answer.get("seed"), answer.get("finish_reason", ""))
    data = {"prompt": request.prompt or "a high resolution photograph", "output_format": "png"}
    generation = _post(session, f"{base}/v2beta/stable-image/upscale/creative", data=data, files=files)["id"]
    deadline = time.monotonic() + settings.PROVIDER_TIMEOUT_SECONDS
    while True:
        if not request.progress(generation, None):
            raise Canceled  # v2beta has no cancel call; the result is simply not fetched
        try:
            response = session.get(f"{base}/v2beta/results/{generation}", timeout=settings.PROVIDER_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise ProviderError(ErrorKind.UNAVAILABLE, "Could not reach Stability.") from exc
        answer = _check(response)
        if response.status_code == 200:
            return _image(answer.get("image", ""), answer.get("seed"), answer.get("finish_reason", ""))
        if time.monotonic() > deadline:
            raise ProviderError(ErrorKind.TIMEOUT, "Stability's creative upscale did not finish in time.")
        time.sleep(POLL_SECONDS)


def generate(request: GenerationRequest) -> ProviderResult:
    session, base = _session()
    with session:
        if "engine" in request.model.provider_params:
            images = _v1(request, session, base)
        elif request.operation in (Operation.GENERATE, Operation.REMIX):
            # One image per call: successive seeds, as the other providers number them.
            images = [_v2_generate(request, session, base, request.seed + i) for i in range(request.n)]
        elif request.operation == Operation.EDIT:
            images = [_v2_edit(request, session, base)]
        elif request.operation == Operation.UPSCALE:
            images = [_v2_upscale(request, session, base)]
        elif request.operation in TOOLS:
            images = [_v2_tool(request, session, base)]
        else:
            raise ProviderError(
                ErrorKind.INVALID_REQUEST, f"{request.model.label} cannot {request.operation} in Atelier."
            )
    if not images:
        raise ProviderError(ErrorKind.UNAVAILABLE, "Stability answered without any image.")
    return ProviderResult(images=images, usage={"images": len(images)})


def check() -> Check:
    """GET /v1/user/balance: cheap, and it proves both the address and the key."""
    session, base = _session()
    with session:
        try:
            answer = _check(session.get(f"{base}/v1/user/balance", timeout=5))
        except ProviderError as exc:
            return Check(False, exc.message)
        except requests.RequestException:
            return Check(False, "Could not reach Stability.")
    return Check(True, f"Reachable; {answer.get('credits', '?')} credits left.")
