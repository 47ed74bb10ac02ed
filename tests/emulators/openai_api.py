"""OpenAI Images API emulator: /v1/images/generations, /edits, /variations, with the real
request validation, response shapes and error bodies (see shared/PROVIDERS.md)."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

from PIL import Image

from studio.providers import offline
from tests.emulators.base import Emulator, Request

GPT_IMAGE = {"gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini"}
SIZES = {
    "gpt-image-1.5": {"1024x1024", "1536x1024", "1024x1536", "auto"},
    "gpt-image-1-mini": {"1024x1024", "1536x1024", "1024x1536", "auto"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
QUALITIES = {"dall-e-3": {"standard", "hd"}, "dall-e-2": {"standard"}}
BLOCKED_WORD = "forbidden"  # prompts containing it are refused by the "safety system"


def error(
    status: int, message: str, *, code: str | None = None, param: str | None = None, kind: str = "invalid_request_error"
):
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, {}


def size_ok(model: str, size: str) -> bool:
    if model == "gpt-image-2":
        if size == "auto":
            return True
        try:
            w, h = (int(x) for x in size.split("x"))
        except ValueError:
            return False
        return w % 16 == 0 and h % 16 == 0 and 1 / 3 <= w / h <= 3 and max(w, h) <= 3840 and min(w, h) <= 2160
    return size in SIZES.get(model, set())


def png(img: Image.Image) -> str:
    out = io.BytesIO()
    img.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


class OpenAIEmulator(Emulator):
    def __init__(self, api_key: str = "sk-test-emulator", port: int = 0) -> None:
        super().__init__(port)
        self.api_key = api_key

    def route(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error(401, "Incorrect API key provided.", code="invalid_api_key")
        routes = {
            "/v1/images/generations": self.generations,
            "/v1/images/edits": self.edits,
            "/v1/images/variations": self.variations,
        }
        if request.method == "GET" and request.path == "/v1/models":
            models = sorted(GPT_IMAGE | set(SIZES))
            return (
                200,
                {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "openai"} for m in models]},
                {},
            )
        if request.method != "POST" or request.path not in routes:
            return error(404, f"Invalid URL ({request.method} {request.path})")
        return routes[request.path](request)

    def _common(self, params: dict[str, Any], *, edit: bool) -> tuple[int, Any, dict] | None:
        model = params.get("model") or "dall-e-2"
        if model not in GPT_IMAGE | set(SIZES):
            return error(404, f"The model '{model}' does not exist.", code="model_not_found")
        prompt = params.get("prompt")
        if not prompt and not params.get("_variation"):
            return error(400, "Missing required parameter: 'prompt'.", param="prompt")
        if model in GPT_IMAGE and params.get("response_format"):
            return error(400, "Unknown parameter: 'response_format'.", param="response_format")
        size = str(params.get("size") or ("auto" if model in GPT_IMAGE else "1024x1024"))
        if not size_ok(model, size):
            return error(400, f"Invalid value: '{size}'. Supported values for {model}.", param="size")
        quality = params.get("quality")
        if quality and model in QUALITIES and quality not in QUALITIES[model]:
            return error(400, f"Invalid value: '{quality}'.", param="quality")
        if quality and model in GPT_IMAGE and quality not in {"low", "medium", "high", "auto"}:
            return error(400, f"Invalid value: '{quality}'.", param="quality")
        n = int(params.get("n") or 1)
        if not 1 <= n <= 10 or (model == "dall-e-3" and n != 1):
            return error(400, "Invalid 'n': integer must be 1 for dall-e-3 and 1-10 otherwise.", param="n")
        if params.get("style") and model != "dall-e-3":
            return error(400, "Unknown parameter: 'style'.", param="style")
        if prompt and BLOCKED_WORD in prompt.lower():
            code = "moderation_blocked" if model in GPT_IMAGE else "content_policy_violation"
            return error(400, "Your request was rejected as a result of our safety system.", code=code)
        return None

    def _respond(self, params: dict[str, Any], images: list[Image.Image]) -> tuple[int, Any, dict]:
        model = params.get("model") or "dall-e-2"
        data = []
        for img in images:
            item: dict[str, Any] = {"b64_json": png(img)}
            if model == "dall-e-3":
                item["revised_prompt"] = f"A detailed, vivid illustration of {params.get('prompt')}."
            data.append(item)
        body: dict[str, Any] = {"created": int(time.time()), "data": data}
        if model in GPT_IMAGE:
            body["usage"] = {
                "input_tokens": 20,
                "output_tokens": 272 * len(images),
                "total_tokens": 20 + 272 * len(images),
            }
            body.update(size=params.get("size", "auto"), quality=params.get("quality", "auto"), output_format="png")
        return 200, body, {}

    def _size(self, params: dict[str, Any], default: tuple[int, int]) -> tuple[int, int]:
        size = str(params.get("size") or "auto")
        return default if size == "auto" else tuple(int(x) for x in size.split("x"))  # type: ignore[return-value]

    def generations(self, request: Request):
        params = request.json or {}
        if failure := self._common(params, edit=False):
            return failure
        w, h = self._size(params, (1024, 1024))
        images = [offline.render(params["prompt"], "", w, h, i, "draft") for i in range(int(params.get("n") or 1))]
        return self._respond(params, images)

    def edits(self, request: Request):
        params = dict(request.fields)
        if failure := self._common(params, edit=True):
            return failure
        images = request.file_lists.get("image[]") or request.file_lists.get("image") or []
        if not images:
            return error(400, "Missing required parameter: 'image'.", param="image")
        model = params.get("model") or "dall-e-2"
        if len(images) > 1 and model not in GPT_IMAGE:
            return error(400, f"{model} edits take one image.", param="image")
        if len(images) > 16:
            return error(400, "At most 16 images.", param="image")
        raw = images[0]
        source = Image.open(io.BytesIO(raw))
        if model == "dall-e-2" and (
            source.width != source.height or len(raw) > 4 * 1024 * 1024 or source.format != "PNG"
        ):
            return error(400, "Invalid input image - format must be a square PNG less than 4 MB.", param="image")
        mask = request.files.get("mask")
        alpha = None
        if mask is not None:
            mask_img = Image.open(io.BytesIO(mask))
            if mask_img.size != source.size:
                return error(400, "Invalid mask image - mask and image must have the same dimensions.", param="mask")
            if "A" not in mask_img.getbands():
                return error(400, "Invalid mask image - mask image missing alpha channel.", param="mask")
            alpha = mask_img.getchannel("A")
        edited = []
        for i in range(int(params.get("n") or 1)):
            fresh = offline.render(params["prompt"], "", source.width, source.height, i, "draft")
            change = alpha.point(lambda v: 255 - v) if alpha is not None else Image.new("L", source.size, 255)
            edited.append(Image.composite(fresh, source.convert("RGB"), change))
        self.last_mask_alpha = alpha
        return self._respond(params, edited)

    def variations(self, request: Request):
        params = {**request.fields, "_variation": True}
        if (params.get("model") or "dall-e-2") != "dall-e-2":
            return error(400, "Variations are only supported for dall-e-2.", param="model")
        if failure := self._common(params, edit=True):
            return failure
        raw = request.files.get("image")
        if raw is None:
            return error(400, "Missing required parameter: 'image'.", param="image")
        source = Image.open(io.BytesIO(raw))
        if source.width != source.height or source.format != "PNG":
            return error(400, "Invalid input image - format must be a square PNG less than 4 MB.", param="image")
        images = [offline.vary(source, i) for i in range(int(params.get("n") or 1))]
        return self._respond(params, images)
