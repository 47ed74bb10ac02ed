"""Stability AI emulator: v1 generation (text-to-image, image-to-image, masking, ESRGAN upscale)
and v2beta Stable Image (generate, inpaint, fast and asynchronous creative upscale, results)."""

from __future__ import annotations

import base64
import io
import re
import time
import uuid
from typing import Any

from PIL import Image

from studio.providers import offline
from tests.emulators.base import Emulator, Request

SDXL_SIZES = {(1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768), (768, 1344),
              (1536, 640), (640, 1536)}  # fmt: skip
SAMPLERS = {"DDIM", "DDPM", "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2", "K_DPM_2_ANCESTRAL", "K_EULER",
            "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS"}  # fmt: skip
ASPECTS = {"16:9": (1344, 768), "1:1": (1024, 1024), "21:9": (1536, 640), "2:3": (832, 1248), "3:2": (1216, 832),
           "4:5": (896, 1088), "5:4": (1088, 896), "9:16": (768, 1344), "9:21": (640, 1536)}  # fmt: skip
# The StylePreset enum, v1 and v2beta alike: there is no "none" (leave the field out instead).
STYLE_PRESETS = {"enhance", "anime", "photographic", "digital-art", "comic-book", "fantasy-art", "line-art",
                 "analog-film", "neon-punk", "isometric", "low-poly", "origami", "modeling-compound", "cinematic",
                 "3d-model", "pixel-art", "tile-texture"}  # fmt: skip
MASK_SOURCES = {"MASK_IMAGE_WHITE", "MASK_IMAGE_BLACK", "INIT_IMAGE_ALPHA"}
ENGINE = "stable-diffusion-xl-1024-v1-0"
# v1 image-to-image/upscale: "outputs an image with a maximum pixel count of 4,194,304" (400
# invalid_pixel_count past it); by default 2× the input; `width` or `height` (not both), at least 512.
UPSCALE_MAX_PIXELS = 4_194_304
UPSCALE_MIN_SIDE = 512


def v1_error(status: int, name: str, message: str):
    return status, {"id": uuid.uuid4().hex, "name": name, "message": message}, {}


def v2_error(status: int, name: str, *errors: str):
    return status, {"id": uuid.uuid4().hex, "name": name, "errors": list(errors)}, {}


def b64(img: Image.Image) -> str:
    out = io.BytesIO()
    img.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def blocked(prompt: str) -> bool:
    return "forbidden" in prompt.lower()


class StabilityEmulator(Emulator):
    def __init__(self, api_key: str = "sk-stability-emulator", creative_seconds: float = 0.3, port: int = 0) -> None:
        super().__init__(port)
        self.api_key = api_key
        self.creative_seconds = creative_seconds
        self.pending: dict[str, tuple[float, Image.Image]] = {}

    def route(self, request: Request):
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return v1_error(401, "unauthorized", "Missing or invalid API key")
        path = request.path
        preset = (request.json or {}).get("style_preset") if request.json else request.fields.get("style_preset")
        if preset is not None and preset not in STYLE_PRESETS:
            message = f"style_preset: must be one of {sorted(STYLE_PRESETS)}"
            return (
                v1_error(400, "bad_request", message)
                if path.startswith("/v1/")
                else v2_error(400, "bad_request", message)
            )
        if path == "/v1/user/balance":
            return 200, {"credits": 42.5}, {}
        if path == f"/v1/generation/{ENGINE}/text-to-image":
            return self.text_to_image(request.json or {})
        if path == f"/v1/generation/{ENGINE}/image-to-image":
            return self.image_to_image(request)
        if path == f"/v1/generation/{ENGINE}/image-to-image/masking":
            return self.masking(request)
        if path == "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale":
            return self.esrgan(request)
        if m := re.fullmatch(r"/v2beta/stable-image/generate/(ultra|core|sd3)", path):
            return self.v2_generate(m.group(1), request)
        if path == "/v2beta/stable-image/edit/inpaint":
            return self.v2_inpaint(request)
        if path == "/v2beta/stable-image/upscale/fast":
            return self.v2_fast(request)
        if path == "/v2beta/stable-image/upscale/conservative":
            return self.v2_conservative(request)
        if m := re.fullmatch(
            r"/v2beta/stable-image/(edit/outpaint|edit/erase|edit/search-and-replace|control/sketch|control/structure|control/style)",
            path,
        ):
            return self.v2_tool(m.group(1), request)
        if path == "/v2beta/stable-image/upscale/creative":
            return self.v2_creative(request)
        if m := re.fullmatch(r"/v2beta/results/(\w+)", path):
            return self.v2_result(m.group(1))
        return v1_error(404, "not_found", f"No route {path}")

    # v1 ---------------------------------------------------------------------------------------
    def _v1_common(self, fields: dict[str, Any], prompts: list[dict[str, Any]]):
        if not prompts or not str(prompts[0].get("text", "")).strip():
            return v1_error(400, "invalid_prompts", "text_prompts: at least one prompt is required")
        if not 0 <= float(fields.get("cfg_scale", 7)) <= 35:
            return v1_error(400, "bad_request", "cfg_scale: must be between 0 and 35")
        if not 10 <= int(fields.get("steps", 30)) <= 50:
            return v1_error(400, "bad_request", "steps: must be between 10 and 50")
        if not 1 <= int(fields.get("samples", 1)) <= 10:
            return v1_error(400, "bad_request", "samples: must be between 1 and 10")
        if fields.get("sampler", "K_DPMPP_2M") not in SAMPLERS:
            return v1_error(400, "bad_request", f"sampler: must be one of {sorted(SAMPLERS)}")
        return None

    def _artifacts(self, prompt: str, size: tuple[int, int], fields: dict[str, Any], base: Image.Image | None = None):
        seed = int(fields.get("seed", 0))
        artifacts = []
        for i in range(int(fields.get("samples", 1))):
            img = offline.render(prompt, "", size[0], size[1], seed + i, "draft")
            if base is not None:
                img = Image.blend(base.convert("RGB").resize(size), img, 0.5)
            finish = "CONTENT_FILTERED" if blocked(prompt) else "SUCCESS"
            artifacts.append({"base64": b64(img), "seed": seed + i, "finishReason": finish})
        return 200, {"artifacts": artifacts}, {}

    def text_to_image(self, body: dict[str, Any]):
        prompts = body.get("text_prompts") or []
        if failure := self._v1_common(body, prompts):
            return failure
        size = (int(body.get("width", 1024)), int(body.get("height", 1024)))
        if size not in SDXL_SIZES:
            return v1_error(400, "invalid_height_or_width", f"{size[0]}x{size[1]} is not an allowed SDXL dimension")
        return self._artifacts(prompts[0]["text"], size, body)

    @staticmethod
    def _form_prompts(fields: dict[str, str]) -> list[dict[str, Any]]:
        prompts = []
        i = 0
        while f"text_prompts[{i}][text]" in fields:
            prompts.append(
                {
                    "text": fields[f"text_prompts[{i}][text]"],
                    "weight": float(fields.get(f"text_prompts[{i}][weight]", 1)),
                }
            )
            i += 1
        return prompts

    def image_to_image(self, request: Request):
        fields, prompts = request.fields, self._form_prompts(request.fields)
        if "init_image" not in request.files:
            return v1_error(400, "bad_request", "init_image: required")
        if fields.get("init_image_mode") != "IMAGE_STRENGTH" or not 0 <= float(fields.get("image_strength", -1)) <= 1:
            return v1_error(400, "bad_request", "image_strength: must be between 0 and 1 with IMAGE_STRENGTH")
        if failure := self._v1_common(fields, prompts):
            return failure
        init = Image.open(io.BytesIO(request.files["init_image"]))
        return self._artifacts(prompts[0]["text"], init.size, fields, base=init)

    def masking(self, request: Request):
        fields, prompts = request.fields, self._form_prompts(request.fields)
        if fields.get("mask_source") not in MASK_SOURCES:
            return v1_error(
                400, "bad_request", "mask_source: must be MASK_IMAGE_WHITE, MASK_IMAGE_BLACK or INIT_IMAGE_ALPHA"
            )
        if failure := self._v1_common(fields, prompts):
            return failure
        init = Image.open(io.BytesIO(request.files["init_image"]))
        mask = Image.open(io.BytesIO(request.files["mask_image"])).convert("L")
        if mask.size != init.size:
            return v1_error(400, "bad_request", "mask_image: must have the same dimensions as init_image")
        change = mask if fields["mask_source"] == "MASK_IMAGE_WHITE" else mask.point(lambda v: 255 - v)
        self.last_change = change
        seed = int(fields.get("seed", 0))
        fresh = offline.render(prompts[0]["text"], "", init.width, init.height, seed, "draft")
        result = Image.composite(fresh, init.convert("RGB"), change)
        return 200, {"artifacts": [{"base64": b64(result), "seed": seed, "finishReason": "SUCCESS"}]}, {}

    def esrgan(self, request: Request):
        if "image" not in request.files:
            return v1_error(400, "bad_request", "image: is required")
        image = Image.open(io.BytesIO(request.files["image"]))
        if "width" in request.fields and "height" in request.fields:
            return v1_error(400, "bad_request", "width, height: only one of them may be specified")
        if "width" in request.fields:
            width = int(request.fields["width"])
            size = (width, round(image.height * width / image.width))
        elif "height" in request.fields:
            height = int(request.fields["height"])
            size = (round(image.width * height / image.height), height)
        else:
            size = (image.width * 2, image.height * 2)
        side = request.fields.get("width") or request.fields.get("height")
        if side is not None and int(side) < UPSCALE_MIN_SIDE:
            return v1_error(400, "bad_request", f"width, height: must be at least {UPSCALE_MIN_SIDE}")
        if size[0] * size[1] > UPSCALE_MAX_PIXELS:
            message = f"The requested image would exceed the maximum pixel count of {UPSCALE_MAX_PIXELS:,}"
            return v1_error(400, "invalid_pixel_count", message)
        result = image.resize(size)
        return 200, {"artifacts": [{"base64": b64(result), "seed": 0, "finishReason": "SUCCESS"}]}, {}

    # v2beta -----------------------------------------------------------------------------------
    def _v2_answer(self, img: Image.Image, prompt: str, seed: int):
        finish = "CONTENT_FILTERED" if blocked(prompt) else "SUCCESS"
        return 200, {"image": b64(img), "finish_reason": finish, "seed": seed}, {}

    def v2_generate(self, kind: str, request: Request):
        fields = request.fields
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return v2_error(400, "bad_request", "content-type: must be multipart/form-data")
        if not fields.get("prompt"):
            return v2_error(400, "bad_request", "prompt: cannot be empty")
        if kind == "sd3" and fields.get("model") not in {"sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium"}:
            return v2_error(400, "bad_request", "model: must be one of sd3.5-large, sd3.5-large-turbo, sd3.5-medium")
        if fields.get("output_format", "png") not in {"png", "jpeg", "webp"}:
            return v2_error(400, "bad_request", "output_format: must be png, jpeg or webp")
        seed = int(fields.get("seed", 0))
        if "image" in request.files:
            if not 0 <= float(fields.get("strength", -1)) <= 1:
                return v2_error(400, "bad_request", "strength: required with image, between 0 and 1")
            source = Image.open(io.BytesIO(request.files["image"]))
            img = Image.blend(
                source.convert("RGB"),
                offline.render(fields["prompt"], "", source.width, source.height, seed, "draft"),
                float(fields["strength"]),
            )
            return self._v2_answer(img, fields["prompt"], seed)
        aspect = fields.get("aspect_ratio", "1:1")
        if aspect not in ASPECTS:
            return v2_error(400, "bad_request", f"aspect_ratio: must be one of {sorted(ASPECTS)}")
        width, height = ASPECTS[aspect]
        return self._v2_answer(
            offline.render(fields["prompt"], "", width, height, seed, "draft"), fields["prompt"], seed
        )

    def v2_inpaint(self, request: Request):
        if "image" not in request.files or not request.fields.get("prompt"):
            return v2_error(400, "bad_request", "image and prompt are required")
        image = Image.open(io.BytesIO(request.files["image"]))
        mask = Image.open(io.BytesIO(request.files["mask"])).convert("L") if "mask" in request.files else None
        if mask is not None and mask.size != image.size:
            return v2_error(400, "bad_request", "mask: must be the same size as image")
        self.last_change = mask
        seed = int(request.fields.get("seed", 0))
        fresh = offline.render(request.fields["prompt"], "", image.width, image.height, seed, "draft")
        return self._v2_answer(Image.composite(fresh, image.convert("RGB"), mask), request.fields["prompt"], seed)

    def v2_fast(self, request: Request):
        image = Image.open(io.BytesIO(request.files["image"]))
        if image.width * image.height > 1_048_576:
            return v2_error(400, "bad_request", "image: at most 1 megapixel for fast upscale")
        return self._v2_answer(image.resize((image.width * 4, image.height * 4)), "", 0)

    def v2_conservative(self, request: Request):
        if not request.fields.get("prompt"):
            return v2_error(400, "bad_request", "prompt: cannot be empty")
        image = Image.open(io.BytesIO(request.files["image"]))
        return self._v2_answer(image.resize((image.width * 4, image.height * 4)), request.fields["prompt"], 0)

    def v2_tool(self, tool: str, request: Request):
        fields = request.fields
        if "image" not in request.files:
            return v2_error(400, "bad_request", "image: required")
        image = Image.open(io.BytesIO(request.files["image"])).convert("RGB")
        seed = int(fields.get("seed", 0))
        prompt = fields.get("prompt", "")
        if tool != "edit/erase" and tool != "edit/outpaint" and not prompt:
            return v2_error(400, "bad_request", "prompt: cannot be empty")
        if tool == "edit/outpaint":
            sides = {k: int(fields.get(k, 0)) for k in ("left", "right", "up", "down")}
            if not any(sides.values()) or any(v < 0 or v > 2000 for v in sides.values()):
                return v2_error(400, "bad_request", "left, right, up, down: at least one between 1 and 2000")
            w, h = image.width + sides["left"] + sides["right"], image.height + sides["up"] + sides["down"]
            out = offline.render(prompt or "scenery", "", w, h, seed, "draft")
            out.paste(image, (sides["left"], sides["up"]))
            self.last_outpaint = (image.size, sides)
            return self._v2_answer(out, prompt, seed)
        if tool == "edit/erase":
            if "mask" not in request.files:
                return v2_error(400, "bad_request", "mask: required (or an alpha channel in image)")
            mask = Image.open(io.BytesIO(request.files["mask"])).convert("L")
            if mask.size != image.size:
                return v2_error(400, "bad_request", "mask: must be the same size as image")
            blurred = image.resize((8, 8)).resize(image.size)
            return self._v2_answer(Image.composite(blurred, image, mask), "", seed)
        if tool == "edit/search-and-replace" and not fields.get("search_prompt"):
            return v2_error(400, "bad_request", "search_prompt: cannot be empty")
        knob = {
            "control/sketch": "control_strength",
            "control/structure": "control_strength",
            "control/style": "fidelity",
        }.get(tool)
        if knob and not 0 <= float(fields.get(knob, -1)) <= 1:
            return v2_error(400, "bad_request", f"{knob}: must be between 0 and 1")
        fresh = offline.render(prompt, "", image.width, image.height, seed, "draft")
        return self._v2_answer(Image.blend(image, fresh, 0.5), prompt, seed)

    def v2_creative(self, request: Request):
        image = Image.open(io.BytesIO(request.files["image"]))
        generation = uuid.uuid4().hex
        self.pending[generation] = (
            time.monotonic() + self.creative_seconds,
            image.resize((image.width * 4, image.height * 4)),
        )
        return 200, {"id": generation}, {}

    def v2_result(self, generation: str):
        if generation not in self.pending:
            return v2_error(404, "not_found", f"generation {generation} not found")
        ready_at, image = self.pending[generation]
        if time.monotonic() < ready_at:
            return 202, {"id": generation, "status": "in-progress"}, {}
        return self._v2_answer(image, "", 0)
