"""Stability AI over its REST API (`requests`): v1 for SDXL 1.0, v2beta for Stable Image.

v1: text-to-image (JSON), image-to-image and masking (multipart), ESRGAN x2 upscale.
v2beta: generate ultra/core/sd3; inpaint, outpaint, erase, search-and-replace; control
structure/sketch and style; the fast and conservative upscalers, and the asynchronous creative
one (polled at /v2beta/results/{id})."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any, cast

import requests
from django.conf import settings
from PIL import Image, ImageChops

from studio import imaging
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
    source_image,
)
from studio.specs import ImageRequest

LABEL = "Stability"
POLL_SECONDS = 1.0
FILTERED = "CONTENT_FILTERED"
TOOLS = {Operation.ERASE, Operation.SEARCH_REPLACE, Operation.CONTROL, Operation.STYLE}


def _session() -> tuple[requests.Session, str]:
    """The process's session for the configured key, and the base URL."""
    conf = settings.PROVIDER_SETTINGS["stability"]
    shared = http.session(("Authorization", f"Bearer {conf['api_key']}"), ("Accept", "application/json"))
    return shared, conf["base_url"].rstrip("/")


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    errors = body.get("errors")
    return "; ".join(map(str, errors)) if errors else str(body.get("message") or body.get("name") or body)


def _answer(response: requests.Response) -> dict[str, Any]:
    """The JSON body of a 200 or 202, or the error the status and Stability's words make."""
    if response.status_code in (200, 202):
        return http.json_object(response, LABEL)
    message = _message(response)
    # v2beta refuses by its moderation with a 403 `content_moderation`; other 403s are the key.
    refused = response.status_code == 403 and "moderation" in response.text.lower()
    raise http.error_for_status(LABEL, response.status_code, message, response.headers, refused=refused)


def _call(
    session: requests.Session, method: str, url: str, *, timeout: float | None = None, **kwargs: Any
) -> requests.Response:
    return http.send(
        session, method, url, provider=LABEL, timeout=timeout or settings.PROVIDER_TIMEOUT_SECONDS, **kwargs
    )


def _post(session: requests.Session, url: str, **kwargs: Any) -> dict[str, Any]:
    """A paid call: every POST of this API makes (and charges for) an image or starts one."""
    return _answer(_call(session, "POST", url, **kwargs))


def _image(b64: Any, seed: Any, finish: str) -> GeneratedImage:
    if finish == FILTERED:
        raise ProviderError(ErrorKind.CONTENT_POLICY, "Stability's content filter blocked the result.")
    try:
        data = base64.b64decode(b64 or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        data = b""
    if not data:  # a 200 without its image
        raise http.unreadable(LABEL)
    try:
        number = int(seed) if seed is not None else None
    except (TypeError, ValueError):
        number = None
    return GeneratedImage(data, seed=number)


def _v2_image(answer: dict[str, Any]) -> GeneratedImage:
    return _image(answer.get("image"), answer.get("seed"), answer.get("finish_reason", ""))


def _source_png(request: ImageRequest) -> bytes:
    return imaging.png_bytes(source_image(request).convert("RGB"))


# --- v1 (SDXL) -----------------------------------------------------------------------------------


def _v1_fields(request: ImageRequest) -> dict[str, Any]:
    """What every v1 diffusion call takes: the catalog's options for it, count and seed."""
    return {**request.wire_options(), "samples": request.n, "seed": request.seed}


def _v1_prompts(request: ImageRequest) -> list[dict[str, Any]]:
    prompts = [{"text": request.prompt, "weight": 1}]
    if request.negative_prompt:
        prompts.append({"text": request.negative_prompt, "weight": -1})
    return prompts


def _v1_multipart(request: ImageRequest) -> dict[str, Any]:
    data: dict[str, Any] = {k: str(v) for k, v in _v1_fields(request).items()}
    for i, prompt in enumerate(_v1_prompts(request)):
        data[f"text_prompts[{i}][text]"] = prompt["text"]
        data[f"text_prompts[{i}][weight]"] = str(prompt["weight"])
    return data


def _v1(request: ImageRequest, session: requests.Session, base: str) -> list[GeneratedImage]:
    engine = request.model.wire.engine
    op = request.operation
    if op == Operation.GENERATE:
        body = {"text_prompts": _v1_prompts(request), "width": request.size.width, "height": request.size.height,
                **_v1_fields(request)}  # fmt: skip
        answer = _post(session, f"{base}/v1/generation/{engine}/text-to-image", json=body)
    elif op == Operation.REMIX:
        strength = request.edit.strength
        # v1's image_strength is how much of the source survives: the opposite of Atelier's strength.
        data = {**_v1_multipart(request), "init_image_mode": "IMAGE_STRENGTH", "image_strength": f"{1 - strength:.3f}"}
        files = {"init_image": ("init.png", _source_png(request), "image/png")}
        answer = _post(session, f"{base}/v1/generation/{engine}/image-to-image", data=data, files=files)
    elif op == Operation.EDIT:
        mask_png, source = imaging.mask_for_stability_v1(mask_image(request))
        files = {
            "init_image": ("init.png", _source_png(request), "image/png"),
            "mask_image": ("mask.png", mask_png, "image/png"),
        }
        data = {**_v1_multipart(request), "mask_source": source}
        answer = _post(session, f"{base}/v1/generation/{engine}/image-to-image/masking", data=data, files=files)
    elif op == Operation.UPSCALE:
        # ESRGAN doubles by default; a `width` would only add its own minimum (512) to what it takes.
        files = {"image": ("image.png", _source_png(request), "image/png")}
        answer = _post(session, f"{base}/v1/generation/esrgan-v1-x2plus/image-to-image/upscale", files=files)
    else:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"SDXL cannot {op} in Atelier.")
    artifacts = answer.get("artifacts")
    if not isinstance(artifacts, list) or not all(isinstance(a, dict) for a in artifacts):
        raise http.unreadable(LABEL)
    return [_image(a.get("base64"), a.get("seed"), a.get("finishReason", "")) for a in artifacts]


# --- v2beta (Stable Image) -------------------------------------------------------------------------


def _v2_generate(request: ImageRequest, session: requests.Session, base: str, seed: int) -> GeneratedImage:
    wire = request.model.wire
    data = {**_v2_fields(request, seed=seed), "aspect_ratio": request.model.aspect_for(request.size)}
    if wire.sd3_model:
        data["model"] = wire.sd3_model
    files: dict[str, Any] = {"none": ("", b"")}  # v2beta wants multipart even with only fields
    if request.operation == Operation.REMIX:
        data.pop("aspect_ratio")  # image-to-image keeps the source's proportions
        if wire.sd3_model:
            data["mode"] = "image-to-image"
        data["strength"] = str(request.edit.strength)
        files = {"image": ("image.png", _source_png(request), "image/png")}
    answer = _post(session, f"{base}/v2beta/stable-image/generate/{wire.endpoint}", data=data, files=files)
    return _v2_image(answer)


def _v2_fields(request: ImageRequest, *, prompt: bool = True, seed: int | None = None) -> dict[str, Any]:
    """The fields every v2beta call of this operation takes: the catalog's options for it (output
    format, style preset where the endpoint has one), the seed, and the prompts (the negative one
    where the endpoint takes it: the validator refuses it elsewhere)."""
    data = {name: str(value) for name, value in request.wire_options().items()}
    data["seed"] = str(request.seed if seed is None else seed)
    if prompt:
        data["prompt"] = request.prompt
    if request.negative_prompt and request.model.takes_negative_prompt(request.operation):
        data["negative_prompt"] = request.negative_prompt
    return data


def _v2_inpaint(request: ImageRequest, session: requests.Session, base: str, image: Image.Image,
                mask: Image.Image) -> GeneratedImage:  # fmt: skip
    files = {
        "image": ("image.png", imaging.png_bytes(image.convert("RGB")), "image/png"),
        "mask": ("mask.png", imaging.mask_white_changes(mask), "image/png"),
    }
    answer = _post(session, f"{base}/v2beta/stable-image/edit/inpaint", data=_v2_fields(request), files=files)
    return _v2_image(answer)


def _v2_outpaint(request: ImageRequest, session: requests.Session, base: str) -> GeneratedImage:
    """Stability extends the original itself: send exactly the source pixels and how far to go.
    Where the user also painted over the picture, the whole canvas is inpainted instead, so what
    they painted is repainted too (outpaint takes no mask)."""
    canvas, mask, extend = source_image(request).convert("RGB"), mask_image(request), request.edit.extend
    assert extend is not None  # validated: an outpaint always says how far
    box = (extend.left, extend.top, canvas.width - extend.right, canvas.height - extend.bottom)
    original = canvas.crop(box)
    _, automatic = imaging.extend_canvas(
        original, left=extend.left, top=extend.top, right=extend.right, bottom=extend.bottom
    )
    if ImageChops.subtract(mask, automatic).getbbox():
        return _v2_inpaint(request, session, base, canvas, mask)
    data = {**_v2_fields(request), "left": str(extend.left), "right": str(extend.right), "up": str(extend.top),
            "down": str(extend.bottom)}  # fmt: skip
    files = {"image": ("image.png", imaging.png_bytes(original), "image/png")}
    answer = _post(session, f"{base}/v2beta/stable-image/edit/outpaint", data=data, files=files)
    return _v2_image(answer)


def _v2_tool(request: ImageRequest, session: requests.Session, base: str) -> GeneratedImage:
    """Erase, search-and-replace, control and style: one source image, one result."""
    op, edit = request.operation, request.edit
    data = _v2_fields(request, prompt=op != Operation.ERASE)  # erase fills from the surroundings
    files: dict[str, Any] = {"image": ("image.png", _source_png(request), "image/png")}
    if op == Operation.ERASE:
        files["mask"] = ("mask.png", imaging.mask_white_changes(mask_image(request)), "image/png")
        path = "edit/erase"
    elif op == Operation.SEARCH_REPLACE:
        data["search_prompt"] = edit.search_prompt
        path = "edit/search-and-replace"
    elif op == Operation.CONTROL:
        data["control_strength"] = str(edit.control_strength)
        path = f"control/{edit.control_kind}"
    else:  # STYLE
        data["fidelity"] = str(edit.fidelity)
        path = "control/style"
    answer = _post(session, f"{base}/v2beta/stable-image/{path}", data=data, files=files)
    return _v2_image(answer)


def _v2_upscale(request: ImageRequest, session: requests.Session, base: str, progress: Progress) -> GeneratedImage:
    files = {"image": ("image.png", _source_png(request), "image/png")}
    upscaler = request.model.wire.upscaler
    if upscaler == "fast":  # it takes the image and output_format only
        data = {name: str(value) for name, value in request.wire_options().items()}
    else:  # conservative and creative want a prompt, and take a negative one and a seed
        data = {**_v2_fields(request), "prompt": request.prompt or "a high resolution photograph"}
    if upscaler in ("fast", "conservative"):
        return _v2_image(_post(session, f"{base}/v2beta/stable-image/upscale/{upscaler}", data=data, files=files))
    deadline = time.monotonic() + settings.PROVIDER_JOB_DEADLINE_SECONDS
    generation = _post(session, f"{base}/v2beta/stable-image/upscale/creative", data=data, files=files).get("id")
    if not isinstance(generation, str) or not generation:
        raise http.unreadable(LABEL)
    return _creative_result(session, base, generation, deadline, progress)


def _creative_result(
    session: requests.Session, base: str, generation: str, deadline: float, progress: Progress
) -> GeneratedImage:
    def fetch() -> GeneratedImage | None:
        """202 while Stability works; 200 with the image once it is done."""
        response = _call(session, "GET", f"{base}/v2beta/results/{generation}")
        answer = _answer(response)
        return _v2_image(answer) if response.status_code == 200 else None

    # v2beta has no cancel call: on the user's cancel the result is simply not fetched.
    image = http.poll(
        fetch,
        provider=LABEL,
        deadline=deadline,
        progress=progress,
        provider_job_id=generation,
        interval=POLL_SECONDS,
        is_done=lambda result: result is not None,
    )
    return cast(GeneratedImage, image)  # a done state always holds the image


def resume(request: ImageRequest, provider_job_id: str, progress: Progress = keep_going) -> ProviderResult:
    """The result of a creative upscale started earlier (by a worker that died): fetched, not
    bought again. It is the only Stability call with a job id; the others answer at once."""
    session, base = _session()
    deadline = time.monotonic() + settings.PROVIDER_JOB_DEADLINE_SECONDS
    image = _creative_result(session, base, provider_job_id, deadline, progress)
    return ProviderResult(images=[image], usage={"images": 1})


def generate(request: ImageRequest, progress: Progress = keep_going) -> ProviderResult:
    session, base = _session()
    op = request.operation
    if request.model.wire.engine:
        images = _v1(request, session, base)
    elif op in (Operation.GENERATE, Operation.REMIX):
        # One image per call: successive seeds, as the other providers number them.
        images = [_v2_generate(request, session, base, request.seed + i) for i in range(request.n)]
    elif op == Operation.EDIT:
        images = [_v2_inpaint(request, session, base, source_image(request), mask_image(request))]
    elif op == Operation.OUTPAINT:
        images = [_v2_outpaint(request, session, base)]
    elif op == Operation.UPSCALE:
        images = [_v2_upscale(request, session, base, progress)]
    elif op in TOOLS:
        images = [_v2_tool(request, session, base)]
    else:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"{request.model.label} cannot {op} in Atelier.")
    if not images:
        raise ProviderError(ErrorKind.UNAVAILABLE, "Stability answered without any image.", may_be_paid=True)
    return ProviderResult(images=images, usage={"images": len(images)})


def check() -> Check:
    """GET /v1/user/balance: cheap, and it proves both the address and the key."""
    session, base = _session()
    try:
        answer = _answer(_call(session, "GET", f"{base}/v1/user/balance", timeout=5))
    except ProviderError as exc:
        return Check(False, exc.message)
    return Check(True, f"Reachable; {answer.get('credits', '?')} credits left.")
