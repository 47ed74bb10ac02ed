"""OpenAI Images API emulator: /v1/images/generations, /edits, /variations, with the real
request validation, response shapes and error bodies (see shared/PROVIDERS.md)."""

from __future__ import annotations

import base64
import io
import json
import math
import time
from collections.abc import Iterator
from typing import Any

from PIL import Image

from studio.providers import offline
from tests.emulators.base import Emulator, Request

# GPT Image models that take free sizes (with their dated snapshots, as openai types/image_model.py
# lists them), and the 2.5 pair that adds xhigh/max and complexity. The 2.6 pair and
# chatgpt-image-latest take what the SDK says of every GPT image model: the three sizes or auto.
GPT_IMAGE_2_5 = {"gpt-image-2.5-flare", "gpt-image-2.5-sunburst"}
GPT_IMAGE_2_5 |= {f"{model}-2026-09-08" for model in GPT_IMAGE_2_5}
FREE_SIZE = {"gpt-image-2", "gpt-image-2-2026-04-21"} | GPT_IMAGE_2_5
GPT_FIXED_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
GPT_FIXED = {"gpt-image-1.5", "gpt-image-1-mini", "gpt-image-1", "gpt-image-2.6-flare", "gpt-image-2.6-sunburst"}
GPT_FIXED |= {"chatgpt-image-latest"}
GPT_IMAGE = GPT_FIXED | FREE_SIZE
SIZES = {
    **dict.fromkeys(GPT_FIXED, GPT_FIXED_SIZES),
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
QUALITIES = {"dall-e-3": {"standard", "hd"}, "dall-e-2": {"standard"}}
GPT_QUALITIES = {"low", "medium", "high", "auto"}
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
# What each endpoint takes (openai types/image_generate_params.py, image_edit_params.py): anything
# else is refused as the API does, so a provider cannot send a parameter that is silently dropped.
GPT_PARAMS = {"model", "prompt", "n", "size", "quality", "background", "output_format", "output_compression",
              "user", "complexity", "stream", "partial_images"}  # fmt: skip
PARAMS = {
    # `moderation` is a generation parameter only: image_edit_params.py (openai 3.57) has none.
    "generations": GPT_PARAMS | {"moderation", "response_format", "style"},
    "edits": GPT_PARAMS | {"image", "image[]", "mask", "input_fidelity", "response_format"},
    "variations": {"model", "image", "n", "size", "response_format", "user", "_variation"},
}
# Image output tokens per image, as OpenAI's image generation guide tabulates them for GPT Image
# models (quality × size); other sizes scale with the square root of their pixels over 1024×1024.
OUTPUT_TOKENS = {
    "1024x1024": {"low": 272, "medium": 1056, "high": 4160},
    "1024x1536": {"low": 408, "medium": 1584, "high": 6240},
    "1536x1024": {"low": 400, "medium": 1568, "high": 6208},
}
QUALITY_SCALE = {"auto": ("high", 1), "xhigh": ("high", 2), "max": ("high", 4)}
# Models that also bill reasoning text as output (output_tokens_details.text_tokens), per image.
REASONING_TOKENS = {"gpt-image-1.5": 100, "gpt-image-2": 150}
PARTIAL_IMAGE_TOKENS = 100  # what OpenAI bills per partial image, in output tokens
PARTIAL_IMAGE_SECONDS = 0.15  # between streamed events, as a model refines its image
BLOCKED_WORD = "forbidden"  # prompts containing it are refused by the "safety system"
MIN_PIXELS = 655_360  # GPT Image 2 and 2.5: the smallest image they make


def error(
    status: int, message: str, *, code: str | None = None, param: str | None = None, kind: str = "invalid_request_error"
):
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, {}


def size_ok(model: str, size: str) -> bool:
    if model in FREE_SIZE:
        if size == "auto":
            return True
        try:
            w, h = (int(x) for x in size.split("x"))
        except ValueError:
            return False
        return (
            w % 16 == 0
            and h % 16 == 0
            and 1 / 3 <= w / h <= 3
            and max(w, h) <= 3840
            and min(w, h) <= 2160
            and w * h >= MIN_PIXELS
        )
    return size in SIZES.get(model, set())


def output_tokens(quality: str, width: int, height: int) -> int:
    base, factor = QUALITY_SCALE.get(quality, (quality, 1))
    table = OUTPUT_TOKENS.get(f"{width}x{height}")
    if table:
        return table[base] * factor
    return round(OUTPUT_TOKENS["1024x1024"][base] * factor * math.sqrt(width * height / (1024 * 1024)))


def input_image_tokens(img: Image.Image) -> int:
    """A base and a share per 512-pixel tile once the image is fitted within 1024×1024."""
    scale = min(1.0, 1024 / max(img.size))
    tiles = math.ceil(img.width * scale / 512) * math.ceil(img.height * scale / 512)
    return 65 + 129 * tiles


def usage(model: str, params: dict[str, Any], inputs: list[Image.Image], outputs: list[Image.Image]) -> dict:
    """The `usage` of a GPT Image answer: text and image tokens in, image (and reasoning) tokens out."""
    text_in = math.ceil(len(str(params.get("prompt") or "")) / 4) + 6  # the prompt, plus a fixed overhead
    image_in = sum(input_image_tokens(img) for img in inputs)
    quality = str(params.get("quality") or "auto")
    image_out = sum(output_tokens(quality, img.width, img.height) for img in outputs)
    text_out = REASONING_TOKENS.get(model, 0) * len(outputs)
    return {
        "input_tokens": text_in + image_in,
        "input_tokens_details": {"text_tokens": text_in, "image_tokens": image_in},
        "output_tokens": image_out + text_out,
        "output_tokens_details": {"image_tokens": image_out, "text_tokens": text_out},
        "total_tokens": text_in + image_in + image_out + text_out,
    }


def streaming(params: dict[str, Any]) -> bool:
    """`stream` as JSON (generations) or as a multipart field (edits)."""
    return params.get("stream") in (True, "true")


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def png(img: Image.Image, fmt: str = "png") -> str:
    out = io.BytesIO()
    img.save(out, FORMATS.get(fmt, "PNG"))
    return base64.b64encode(out.getvalue()).decode()


class OpenAIEmulator(Emulator):
    def __init__(self, api_key: str = "sk-test-emulator", port: int = 0) -> None:
        super().__init__(port)
        self.api_key = api_key
        self.last_mask_alpha: Image.Image | None = None
        # Like some OpenAI-compatible servers: stream the completed image without its time and usage.
        self.lean_stream = False

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

    def _common(self, params: dict[str, Any], *, endpoint: str) -> tuple[int, Any, dict] | None:
        model = params.get("model") or "dall-e-2"
        if model not in GPT_IMAGE | set(SIZES):
            return error(404, f"The model '{model}' does not exist.", code="model_not_found")
        for name in params:
            if name not in PARAMS[endpoint]:
                return error(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        if model in GPT_IMAGE and (failure := self._gpt_settings(model, params)):
            return failure
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
        qualities = GPT_QUALITIES | ({"xhigh", "max"} if model in GPT_IMAGE_2_5 else set())
        if quality and model in GPT_IMAGE and quality not in qualities:
            return error(400, f"Invalid value: '{quality}'.", param="quality")
        n = int(params.get("n") or 1)
        if not 1 <= n <= 10 or (model == "dall-e-3" and n != 1):
            return error(400, "Invalid 'n': integer must be 1 for dall-e-3 and 1-10 otherwise.", param="n")
        if streaming(params) and model not in GPT_IMAGE:
            return error(400, "Streaming is only supported for GPT image models.", param="stream")
        if "partial_images" in params:
            if not streaming(params):
                return error(400, "partial_images requires stream=true.", param="partial_images")
            if str(params["partial_images"]) not in {"0", "1", "2", "3"}:
                return error(400, "partial_images must be between 0 and 3.", param="partial_images")
        if params.get("style") and model != "dall-e-3":
            return error(400, "Unknown parameter: 'style'.", param="style")
        if prompt and BLOCKED_WORD in prompt.lower():
            code = "moderation_blocked" if model in GPT_IMAGE else "content_policy_violation"
            return error(400, "Your request was rejected as a result of our safety system.", code=code)
        return None

    @staticmethod
    def _gpt_settings(model: str, params: dict[str, Any]) -> tuple[int, Any, dict] | None:
        """GPT Image settings and the rules between them, as the API checks them."""
        fmt = params.get("output_format") or "png"
        choices = {
            "output_format": set(FORMATS),
            "background": {"auto", "opaque", "transparent"},
            "moderation": {"auto", "low"},
            "input_fidelity": {"low", "high"},
            "complexity": {"low", "medium", "high"},
        }
        for name, allowed in choices.items():
            if name in params and params[name] not in allowed:
                return error(400, f"Invalid value: '{params[name]}'.", param=name)
        if "complexity" in params and model not in GPT_IMAGE_2_5:
            return error(400, f"'complexity' is not supported with {model}.", param="complexity")
        if params.get("background") == "transparent" and fmt not in ("png", "webp"):
            return error(400, "Transparent background requires output_format png or webp.", param="background")
        if "output_compression" in params:
            if fmt not in ("jpeg", "webp"):
                return error(400, "output_compression is only supported for jpeg and webp.", param="output_compression")
            if not 0 <= int(params["output_compression"]) <= 100:
                return error(400, "output_compression must be between 0 and 100.", param="output_compression")
        return None

    def _respond(
        self,
        params: dict[str, Any],
        images: list[Image.Image],
        inputs: list[Image.Image] | None = None,
        event: str = "",
    ) -> tuple[int, Any, dict]:
        if streaming(params):
            return 200, self._events(params, images, inputs, event), {"Content-Type": "text/event-stream"}
        model = params.get("model") or "dall-e-2"
        fmt = params.get("output_format") or "png"
        data = []
        for img in images:
            item: dict[str, Any] = {"b64_json": png(img, fmt)}
            if model == "dall-e-3":
                item["revised_prompt"] = f"A detailed, vivid illustration of {params.get('prompt')}."
            data.append(item)
        body: dict[str, Any] = {"created": int(time.time()), "data": data}
        if model in GPT_IMAGE:
            body["usage"] = usage(model, params, inputs or [], images)
            body.update(size=params.get("size", "auto"), quality=params.get("quality", "auto"), output_format=fmt)
        return 200, body, {}

    def _events(
        self, params: dict[str, Any], images: list[Image.Image], inputs: list[Image.Image] | None, event: str
    ) -> Iterator[bytes]:
        """Server-sent events as the Images API streams them (openai types/image_gen_*_event.py,
        image_edit_*_event.py): for each image its partial images, coarse to fine, then the image."""
        fmt = params.get("output_format") or "png"
        partials = int(params.get("partial_images") or 0)
        shared = {"background": params.get("background") or "opaque", "output_format": fmt,
                  "quality": params.get("quality") or "auto", "size": params.get("size") or "auto"}  # fmt: skip
        for img in images:
            for index in range(partials):
                time.sleep(PARTIAL_IMAGE_SECONDS)
                scale = 2 ** (partials - index + 2)  # the first partial is the coarsest
                rough = img.resize((max(1, img.width // scale), max(1, img.height // scale))).resize(img.size)
                yield sse(f"{event}.partial_image", {"type": f"{event}.partial_image", "b64_json": png(rough, fmt),
                          "partial_image_index": index, "created_at": int(time.time()), **shared})  # fmt: skip
            time.sleep(PARTIAL_IMAGE_SECONDS)
            counted = usage(params.get("model") or "", params, inputs or [], [img])
            extra = PARTIAL_IMAGE_TOKENS * partials  # billed as image output
            counted["output_tokens_details"]["image_tokens"] += extra
            counted["output_tokens"] += extra
            counted["total_tokens"] += extra
            completed = {"type": f"{event}.completed", "b64_json": png(img, fmt), **shared}
            if not self.lean_stream:
                completed.update(created_at=int(time.time()), usage=counted)
            yield sse(f"{event}.completed", completed)

    def _size(self, params: dict[str, Any], default: tuple[int, int]) -> tuple[int, int]:
        size = str(params.get("size") or "auto")
        return default if size == "auto" else tuple(int(x) for x in size.split("x"))  # type: ignore[return-value]

    def generations(self, request: Request):
        params = request.json or {}
        if failure := self._common(params, endpoint="generations"):
            return failure
        w, h = self._size(params, (1024, 1024))
        images = [offline.render(params["prompt"], "", w, h, i, "draft") for i in range(int(params.get("n") or 1))]
        return self._respond(params, images, event="image_generation")

    def edits(self, request: Request):
        params = dict(request.fields)
        if failure := self._common({**params, **dict.fromkeys(request.files)}, endpoint="edits"):
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
            result = Image.composite(fresh, source.convert("RGB"), change)
            edited.append(result.resize(self._size(params, source.size)))
        self.last_mask_alpha = alpha
        return self._respond(params, edited, [Image.open(io.BytesIO(raw)) for raw in images], "image_edit")

    def variations(self, request: Request):
        params = {**request.fields, "_variation": True}
        if (params.get("model") or "dall-e-2") != "dall-e-2":
            return error(400, "Variations are only supported for dall-e-2.", param="model")
        if failure := self._common({**params, **dict.fromkeys(request.files)}, endpoint="variations"):
            return failure
        raw = request.files.get("image")
        if raw is None:
            return error(400, "Missing required parameter: 'image'.", param="image")
        source = Image.open(io.BytesIO(raw))
        if source.width != source.height or source.format != "PNG":
            return error(400, "Invalid input image - format must be a square PNG less than 4 MB.", param="image")
        images = [offline.vary(source, i) for i in range(int(params.get("n") or 1))]
        return self._respond(params, images)
