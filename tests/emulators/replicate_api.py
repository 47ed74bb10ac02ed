"""Replicate predictions API emulator: create (with `Prefer: wait`), get, cancel, and the output
files, validating Flux inputs the way the model schemas do; errors are problem JSON."""

from __future__ import annotations

import base64
import io
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from studio.providers import offline
from tests.emulators.base import Emulator, Request

ASPECTS = {"1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"}
SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "21:9": (1536, 640), "3:2": (1216, 832), "2:3": (832, 1216),
         "4:5": (896, 1088), "5:4": (1088, 896), "3:4": (896, 1152), "4:3": (1152, 896), "9:16": (768, 1344),
         "9:21": (640, 1536)}  # fmt: skip
MODELS = {
    "black-forest-labs/flux-schnell": {"num_outputs": (1, 4), "num_inference_steps": (1, 4)},
    "black-forest-labs/flux-dev": {"num_outputs": (1, 4), "num_inference_steps": (1, 50), "guidance": (0, 10)},
    "black-forest-labs/flux-pro": {"safety_tolerance": (1, 6)},
    "black-forest-labs/flux-1.1-pro": {"safety_tolerance": (1, 6)},
    "black-forest-labs/flux-1.1-pro-ultra": {"safety_tolerance": (1, 6)},
    "black-forest-labs/flux-fill-pro": {"steps": (15, 50), "guidance": (1.5, 100), "safety_tolerance": (1, 6)},
    "black-forest-labs/flux-canny-pro": {"steps": (15, 50), "guidance": (1, 100)},
    "black-forest-labs/flux-depth-pro": {"steps": (15, 50), "guidance": (1, 100)},
    "black-forest-labs/flux-redux-dev": {"num_outputs": (1, 4)},
    # replicate.com/black-forest-labs/flux-kontext-pro|max/api/schema: input_image, aspect_ratio
    # with match_input_image, safety_tolerance 0-6 but at most 2 with an input image.
    "black-forest-labs/flux-kontext-pro": {"safety_tolerance": (0, 6)},
    "black-forest-labs/flux-kontext-max": {"safety_tolerance": (0, 6)},
    # replicate.com/black-forest-labs/flux-2-pro|dev/api/schema: input_images (at most 8 / 4).
    "black-forest-labs/flux-2-pro": {"safety_tolerance": (1, 6)},
    "black-forest-labs/flux-2-dev": {},
}
KONTEXT = {"black-forest-labs/flux-kontext-pro", "black-forest-labs/flux-kontext-max"}
FLUX_2 = {"black-forest-labs/flux-2-pro": 8, "black-forest-labs/flux-2-dev": 4}  # input images at most
MATCH_INPUT = "match_input_image"
# Models that answer with a list of URLs; the others with one URL.
LIST_OUTPUT = {"black-forest-labs/flux-schnell", "black-forest-labs/flux-dev", "black-forest-labs/flux-redux-dev"}


def from_data_url(value: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(value.split(",", 1)[1])))


def problem(status: int, title: str, detail: str):
    return status, {"title": title, "detail": detail, "status": status}, {"Content-Type": "application/problem+json"}


@dataclass
class Prediction:
    id: str
    model: str
    input: dict[str, Any]
    created: float
    latency: float
    status: str = "starting"
    output: list[str] | None = None
    error: str | None = None
    canceled: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    rendered: threading.Event = field(default_factory=threading.Event)


class ReplicateEmulator(Emulator):
    def __init__(self, token: str = "r8_test_emulator", latency: float = 0.2, port: int = 0) -> None:
        super().__init__(port)
        self.token = token
        self.latency = latency
        self.predictions: dict[str, Prediction] = {}
        self.lock = threading.Lock()

    def route(self, request: Request):
        if request.path.startswith("/files/"):
            return self._file(request.path.removeprefix("/files/"))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        if request.path == "/v1/account":
            return (
                200,
                {"type": "user", "username": "atelier-emulator", "name": "Atelier emulator", "github_url": None},
                {},
            )
        if request.method == "POST" and (m := re.fullmatch(r"/v1/models/([\w.-]+/[\w.-]+)/predictions", request.path)):
            return self._create(m.group(1), request)
        if m := re.fullmatch(r"/v1/predictions/(\w+)(/cancel)?", request.path):
            prediction = self.predictions.get(m.group(1))
            if prediction is None:
                return problem(404, "Not found", "The requested resource could not be found.")
            if m.group(2) and request.method == "POST":
                prediction.canceled = True
            return 200, self._state(prediction), {}
        return problem(404, "Not found", f"No route for {request.method} {request.path}")

    def _create(self, model: str, request: Request):
        schema = MODELS.get(model)
        if schema is None:
            return problem(404, "Model not found", f"The model {model} does not exist")
        data = (request.json or {}).get("input") or {}
        if model.endswith("redux-dev"):
            if not str(data.get("redux_image", "")).startswith("data:"):
                return problem(422, "Input validation failed", "- input: redux_image is required")
        elif not data.get("prompt") and not data.get("image_prompt"):
            return problem(422, "Input validation failed", "- input: prompt is required")
        if model.endswith(("canny-pro", "depth-pro")) and not str(data.get("control_image", "")).startswith("data:"):
            return problem(422, "Input validation failed", "- input: control_image is required")
        if model.endswith("fill-pro"):
            if not str(data.get("image", "")).startswith("data:") or not str(data.get("mask", "")).startswith("data:"):
                return problem(422, "Input validation failed", "- input: image and mask are required")
            if from_data_url(data["image"]).size != from_data_url(data["mask"]).size:
                return problem(422, "Input validation failed", "- input.mask: must be the same size as image")
        elif data.get("aspect_ratio", "1:1") not in ASPECTS | (
            {MATCH_INPUT} if model in KONTEXT | set(FLUX_2) else set()
        ):
            return problem(422, "Input validation failed", f"- input.aspect_ratio: must be one of {sorted(ASPECTS)}")
        if failure := self._check_inputs(model, data):
            return failure
        for name, (low, high) in schema.items():
            if name in data and not low <= float(data[name]) <= high:
                return problem(422, "Input validation failed", f"- input.{name}: must be between {low} and {high}")
        prediction = Prediction(uuid.uuid4().hex[:20], model, data, time.monotonic(), self.latency)
        # Drawn while the create call answers, as Replicate queues the work and answers at once;
        # revealed after the latency, so the latency is all the wait.
        threading.Thread(target=self._render_then_mark, args=(prediction,), daemon=True).start()
        with self.lock:
            self.predictions[prediction.id] = prediction
        wait = re.search(r"wait=(\d+)", request.headers.get("prefer", ""))
        if wait:  # hold the connection until done, or for the asked seconds
            ready = prediction.created + min(float(wait.group(1)), self.latency)
            time.sleep(max(0.0, ready - time.monotonic()))
        return 201, self._state(prediction), {}

    @staticmethod
    def _check_inputs(model: str, data: dict[str, Any]):
        """Kontext's one input image and FLUX.2's list of them, as their schemas take them."""
        images: list[Any] = []
        if model in KONTEXT and "input_image" in data:
            images = [data["input_image"]]
            if int(data.get("safety_tolerance", 2)) > 2:
                return problem(422, "Input validation failed",
                               "- input.safety_tolerance: 2 is the maximum allowed with input images")  # fmt: skip
        elif model in FLUX_2 and "input_images" in data:
            images = data["input_images"]
            if not isinstance(images, list) or not 1 <= len(images) <= FLUX_2[model]:
                return problem(422, "Input validation failed",
                               f"- input.input_images: a list of at most {FLUX_2[model]} images")  # fmt: skip
        if not all(str(image).startswith("data:") for image in images):
            return problem(422, "Input validation failed", "- input: images must be data URLs or https URLs")
        if data.get("aspect_ratio") == MATCH_INPUT and not images and model in KONTEXT | set(FLUX_2):
            return problem(422, "Input validation failed", "- input.aspect_ratio: match_input_image needs an image")
        return None

    def _state(self, p: Prediction) -> dict[str, Any]:
        elapsed = time.monotonic() - p.created
        if p.canceled and p.status not in {"succeeded", "failed"}:
            p.status = "canceled"
        elif p.status in {"starting", "processing"}:
            if elapsed >= p.latency:
                self._finish(p)
            elif elapsed > p.latency / 3:
                p.status = "processing"
        return {
            "id": p.id, "model": p.model, "version": "emulated", "input": p.input, "status": p.status,
            "output": p.output, "error": p.error, "logs": self._logs(p, elapsed), "created_at": "2026-11-29T00:00:00Z",
            "metrics": {"predict_time": round(p.latency, 3)} if p.status == "succeeded" else {},
            "urls": {"get": f"{self.url}/v1/predictions/{p.id}", "cancel": f"{self.url}/v1/predictions/{p.id}/cancel"},
        }  # fmt: skip

    @staticmethod
    def _logs(p: Prediction, elapsed: float) -> str:
        """What the model prints while it runs: its seed, then a tqdm bar per denoising step."""
        if p.status not in {"processing", "succeeded"}:
            return ""
        steps = 4
        done = steps if p.status == "succeeded" else int(steps * (elapsed - p.latency / 3) / (p.latency * 2 / 3))
        bars = [f"{100 * i // steps:3d}%|{'█' * (10 * i // steps):<10}| {i}/{steps} [00:0{i}<00:00,  2.51it/s]"
                for i in range(max(0, min(done, steps)) + 1)]  # fmt: skip
        return "\n".join([f"Using seed: {p.input.get('seed', 0)}", *bars])

    def _render_then_mark(self, p: Prediction) -> None:
        try:
            self._render(p)
        finally:
            p.rendered.set()

    def _finish(self, p: Prediction) -> None:
        p.rendered.wait()
        if "forbidden" in str(p.input.get("prompt", "")).lower():
            p.status, p.error = "failed", "NSFW content detected. Try running it again, or try a different prompt."
            return
        urls = [f"{self.url}/files/{name}" for name in p.files]
        p.status, p.output = "succeeded", urls if p.model in LIST_OUTPUT else None
        if p.output is None:  # the pro models return one URL, not a list
            p.output = urls[0]  # type: ignore[assignment]

    def _render(self, p: Prediction) -> None:
        fmt = p.input.get("output_format", "webp")
        source_key = next((k for k in ("control_image", "redux_image", "input_image") if k in p.input), None)
        source_url = p.input[source_key] if source_key else (p.input.get("input_images") or [None])[0]
        if source_url:  # control and instructions keep the source's size; redux takes the aspect ratio
            source = from_data_url(source_url).convert("RGB")
            if p.input.get("aspect_ratio", MATCH_INPUT) != MATCH_INPUT:
                source = source.resize(SIZES[p.input["aspect_ratio"]])
            for i in range(int(p.input.get("num_outputs", 1))):
                fresh = offline.render(
                    str(p.input.get("prompt", "variation")), "", source.width, source.height, i, "draft"
                )
                out = io.BytesIO()
                Image.blend(source, fresh, 0.4).save(out, "PNG")
                p.files[f"{p.id}-{i}.png"] = out.getvalue()
            return
        if p.model.endswith("fill-pro"):  # repaint where the mask is white
            source, mask = from_data_url(p.input["image"]).convert("RGB"), from_data_url(p.input["mask"]).convert("L")
            fresh = offline.render(
                str(p.input["prompt"]), "", source.width, source.height, int(p.input.get("seed") or 0), "draft"
            )
            out = io.BytesIO()
            Image.composite(fresh, source, mask).save(out, "PNG")
            p.files[f"{p.id}-0.png"] = out.getvalue()
            return
        width, height = SIZES[p.input.get("aspect_ratio", "1:1")]
        for i in range(int(p.input.get("num_outputs", 1))):
            img = offline.render(
                str(p.input.get("prompt", "")), "", width, height, int(p.input.get("seed") or 0) + i, "draft"
            )
            out = io.BytesIO()
            img.save(out, {"jpg": "JPEG", "png": "PNG"}.get(fmt, "WEBP"))
            p.files[f"{p.id}-{i}.{fmt}"] = out.getvalue()

    def _file(self, name: str):
        for p in self.predictions.values():
            if name in p.files:
                return 200, p.files[name], {"Content-Type": "image/webp"}
        return 404, b"", {}
