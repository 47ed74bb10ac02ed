"""AUTOMATIC1111 web API subset under /sdapi/v1/: A1111 clients make ordinary Atelier jobs, their
settings mapped to the nearest the chosen catalog model takes, and `info` says what was changed."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from PIL import ImageChops

from compat import results
from compat.auth import Refused, token_view
from compat.models import A1111Settings
from studio import catalog, editing, imaging, jobs, params, specs
from studio.catalog import Model, Operation, OptionKind, Size
from studio.metadata import a1111
from studio.models import Job

DEFAULT_CHECKPOINT = "offline"
# A1111's sampler names and Stability's for the same sampler (the `sampler` option's choices).
SAMPLERS = {
    "DPM++ 2M": "K_DPMPP_2M",
    "DPM++ 2S a": "K_DPMPP_2S_ANCESTRAL",
    "DPM2": "K_DPM_2",
    "DPM2 a": "K_DPM_2_ANCESTRAL",
    "Euler": "K_EULER",
    "Euler a": "K_EULER_ANCESTRAL",
    "Heun": "K_HEUN",
    "LMS": "K_LMS",
    "DDIM": "DDIM",
}
A1111_SAMPLER = {wire: name for name, wire in SAMPLERS.items()}
# A1111's number settings and the catalog options that mean the same (the first a model has).
NUMBER_OPTIONS = {"steps": ("steps", "num_inference_steps"), "cfg_scale": ("cfg_scale", "guidance")}
# img2img without a mask: the first of these the model can do.
IMG2IMG_OPERATIONS = (Operation.REMIX, Operation.INSTRUCT, Operation.VARIATION)
INPAINT_SETTINGS = ("mask_blur", "inpainting_fill", "inpaint_full_res", "inpaint_full_res_padding")


class ApiError(Exception):
    """An answer in A1111's (FastAPI's) error shape: {"detail": ...}."""

    def __init__(self, status: int, detail: Any, **extra: Any) -> None:
        super().__init__(str(detail))
        self.status, self.detail, self.extra = status, detail, extra


def error_response(exc: ApiError) -> JsonResponse:
    response = JsonResponse({"detail": exc.detail, **exc.extra}, status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="Atelier"'
    return response


def _refused(exc: Refused) -> JsonResponse:
    return error_response(ApiError(exc.status, exc.message))


def _invalid(exc: specs.Invalid) -> ApiError:
    """FastAPI's validation error: 422 with one entry per problem."""
    problems = [{"loc": ["body", field], "msg": message, "type": "value_error"}
                for field, messages in exc.errors.items() for message in messages]  # fmt: skip
    return ApiError(422, problems)


def a1111_view(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Token auth (HTTP basic with the token as password, or bearer), then the view."""

    @token_view(_refused, basic=True)
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except specs.Invalid as exc:
            return error_response(_invalid(exc))
        except jobs.JobRefused as exc:  # budget or per-user cap: 429; the queue down: 503
            return error_response(ApiError(exc.status or 429, str(exc)))
        except ApiError as exc:
            return error_response(exc)

    return wrapper


# --- models and options ------------------------------------------------------------------------


def current_checkpoint(user: Any) -> str:
    stored = A1111Settings.objects.filter(user=user).values_list("sd_model_checkpoint", flat=True).first()
    return stored or DEFAULT_CHECKPOINT


@a1111_view
@require_GET
def sd_models(request: HttpRequest) -> JsonResponse:
    """The models that can take jobs here, as A1111 lists its checkpoints (title = catalog id)."""
    available = [m for m in catalog.MODELS.values() if catalog.availability(m).enabled]
    checkpoints = [{"title": m.id, "model_name": m.id, "hash": None, "sha256": None, "filename": m.label,
                    "config": None} for m in available]  # fmt: skip
    return JsonResponse(checkpoints, safe=False)


@a1111_view
@require_http_methods(["GET", "POST"])
def options(request: HttpRequest) -> JsonResponse:
    """Only `sd_model_checkpoint` is kept (per user); other options are accepted and not used."""
    if request.method == "GET":
        return JsonResponse({"sd_model_checkpoint": current_checkpoint(request.user), "sd_checkpoint_hash": None})
    payload = _json_body(request)
    if "sd_model_checkpoint" in payload:
        model = specs.get_model(str(payload["sd_model_checkpoint"]))
        A1111Settings.objects.update_or_create(user=request.user, defaults={"sd_model_checkpoint": model.id})
    return JsonResponse(None, safe=False)


# --- reading requests --------------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        return params.json_object(request.body)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _model(user: Any, payload: dict[str, Any]) -> Model:
    """`override_settings.sd_model_checkpoint` for this request, else the user's current model."""
    override = payload.get("override_settings")
    asked = override.get("sd_model_checkpoint") if isinstance(override, dict) else None
    model_id = asked or current_checkpoint(user)
    model = catalog.get_model(str(model_id))
    if model is None:
        raise ApiError(404, f"There is no model “{model_id}”; GET /sdapi/v1/sd-models lists them.")
    return model


def _number(payload: dict[str, Any], name: str, *, default: float | None = None) -> float | None:
    value = payload.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise specs.Invalid({name: [f"Give {name} as a number."]})
    return value


def _image(value: Any, name: str) -> bytes:
    """A base64 image, bare or as a data URL (webuiapi sends data URLs)."""
    try:
        return base64.b64decode(str(value).split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise specs.Invalid({name: ["Send each image as base64 (a data URL works too)."]}) from None


class Nearest:
    """A1111 settings read onto one model, with a note for everything that could not be kept."""

    def __init__(self, model: Model, operation: Operation, payload: dict[str, Any]) -> None:
        self.model, self.operation, self.payload = model, operation, payload
        self.notes: list[str] = []
        self.used: dict[str, Any] = {}

    def request_fields(self) -> dict[str, Any]:
        """prompt, negative_prompt, n, seed and options, as specs.build takes them."""
        model, payload = self.model, self.payload
        specs.check_types({k: payload.get(k) for k in ("prompt", "negative_prompt")})
        negative = payload.get("negative_prompt") or ""
        if negative and not model.negative_prompt:
            self.notes.append(f"negative_prompt: {model.label} takes none; not used.")
            negative = ""
        return {
            "prompt": payload.get("prompt") or "",
            "negative_prompt": negative,
            "n": self._count(),
            "seed": self._seed(),
            "options": self._options(),
        }

    def _count(self) -> int:
        batch = _number(self.payload, "batch_size", default=1) or 1
        iterations = _number(self.payload, "n_iter", default=1) or 1
        asked = int(batch) * int(iterations)
        count = max(1, min(asked, self.model.max_n))
        if count != asked:
            self.notes.append(f"batch_size × n_iter {asked} → {count}: {self.model.label} makes at most "
                              f"{self.model.max_n} at a time.")  # fmt: skip
        return count

    def _seed(self) -> int | None:
        seed = _number(self.payload, "seed", default=-1)
        if seed is None or seed < 0:
            return None  # A1111's -1: a random seed
        if not self.model.seed:
            self.notes.append(f"seed: {self.model.label} takes none; not used.")
            return None
        if seed != int(seed):
            raise specs.Invalid({"seed": ["Give seed as a whole number."]})
        return int(seed)

    def _options(self) -> dict[str, Any]:
        available = {o.name: o for o in self.model.options_for(self.operation)}
        chosen: dict[str, Any] = {}
        for name, option_names in NUMBER_OPTIONS.items():
            value = _number(self.payload, name)
            if value is None:
                continue
            option = next((available[n] for n in option_names if n in available), None)
            if option is None:
                self.notes.append(f"{name} {value:g}: {self.model.label} has no such setting; not used.")
                continue
            near = min(max(value, option.min), option.max)
            near = round(near) if option.kind == OptionKind.INT else near
            if near != value:
                self.notes.append(f"{name} {value:g} → {near:g}: {self.model.label} takes "
                                  f"{option.min:g} to {option.max:g}.")  # fmt: skip
            chosen[option.name] = self.used[name] = near
        sampler = self.payload.get("sampler_name") or self.payload.get("sampler_index")
        option = available.get("sampler")
        if sampler and option is None:
            self.notes.append(f"sampler {sampler}: {self.model.label} has no sampler setting; not used.")
        elif option is not None:
            wire = SAMPLERS.get(str(sampler))
            if sampler and wire not in option.choices:
                self.notes.append(f"sampler {sampler}: {self.model.label} has no such sampler; its default "
                                  f"{A1111_SAMPLER.get(str(option.default), option.default)} was used.")  # fmt: skip
                wire = option.default
            chosen["sampler"] = wire or option.default
            self.used["sampler_name"] = A1111_SAMPLER.get(str(chosen["sampler"]), chosen["sampler"])
        return chosen

    def asked_size(self) -> tuple[int, int]:
        width, height = _number(self.payload, "width", default=512), _number(self.payload, "height", default=512)
        if width != int(width) or height != int(height) or width < 1 or height < 1:
            raise specs.Invalid({"width": ["Give width and height as whole numbers of pixels."]})
        return int(width), int(height)

    def generate_size(self) -> Size:
        """The asked size if the model makes it, else the nearest it does."""
        width, height = self.asked_size()
        rule, model = self.model.size_rule, self.model
        size = next((s for s in model.sizes if (s.width, s.height) == (width, height)), None)
        if size is None and model.free_generate and rule:
            size = Size.of(width, height) if not rule.problem(width, height) else rule.fit(width, height)
        size = size or model.nearest_size(width / height)
        self.note_size(size, f"the nearest {model.label} makes")
        return size

    def note_size(self, size: Size, why: str) -> None:
        width, height = self.asked_size()
        if (size.width, size.height) != (width, height):
            self.notes.append(f"size {width}x{height} → {size.width}x{size.height}: {why}.")


def _inverted(mask: bytes, source: bytes) -> bytes:
    """The mask the other way round (inpainting_mask_invert); a mask that does not match the source's
    size is refused from the headers, before it is decoded."""
    try:
        size = imaging.dimensions(source)
    except imaging.ImageRejected as exc:
        raise specs.Invalid({"init_images": [str(exc)]}) from exc
    try:
        painted = imaging.read_mask(mask, size)
    except (imaging.MaskRejected, imaging.ImageRejected) as exc:
        raise specs.Invalid({"mask": [str(exc)]}) from exc
    return imaging.png_bytes(ImageChops.invert(painted))


# --- the endpoints -----------------------------------------------------------------------------


@a1111_view
@require_POST
def txt2img(request: HttpRequest) -> JsonResponse:
    payload = _json_body(request)
    model = _model(request.user, payload)
    nearest = Nearest(model, Operation.GENERATE, payload)
    fields = nearest.request_fields()
    image_request = specs.build(model=model.id, size=nearest.generate_size(), **fields)
    job = jobs.job_create(owner=request.user, request=image_request)
    return _answer(job, nearest)


@a1111_view
@require_POST
def img2img(request: HttpRequest) -> JsonResponse:
    """With a mask, an inpaint (white: repaint); without, a remix at `denoising_strength` (or, for
    models without remix, an instruct edit or a variation)."""
    payload = _json_body(request)
    model = _model(request.user, payload)
    init_images = payload.get("init_images")
    if not isinstance(init_images, list) or not init_images:
        raise specs.Invalid({"init_images": ["Send the image as init_images: a list of one base64 image."]})
    source = _image(init_images[0], "init_images")
    mask = _image(payload["mask"], "mask") if payload.get("mask") else None
    if mask and payload.get("inpainting_mask_invert"):
        mask = _inverted(mask, source)
    operation = Operation.EDIT if mask else next((op for op in IMG2IMG_OPERATIONS if op in model.operations),
                                                  Operation.REMIX)  # fmt: skip
    nearest = Nearest(model, operation, payload)
    if len(init_images) > 1:
        nearest.notes.append(f"init_images: only the first of {len(init_images)} is used.")
    strength = _number(payload, "denoising_strength")
    if strength is not None and operation != Operation.REMIX:
        nearest.notes.append(f"denoising_strength: not used for {operation.value} on {model.label}.")
    if mask and any(name in payload for name in INPAINT_SETTINGS):
        nearest.notes.append(f"{', '.join(INPAINT_SETTINGS)}: not used; the mask is sent as given.")
    edit = editing.prepare(
        model=model.id,
        operation=operation,
        source=source,
        mask=mask,
        settings=specs.EditSettings(strength=strength if operation == Operation.REMIX else None),
        **nearest.request_fields(),
    )
    nearest.note_size(edit.request.size, f"the source's shape, fitted to {model.label}")
    return _answer(jobs.job_create_edit(owner=request.user, edit=edit), nearest)


def _answer(job: Job, nearest: Nearest) -> JsonResponse:
    """Wait for the job (up to COMPAT_WAIT_SECONDS), then answer as A1111 does: base64 images, the
    request echoed as `parameters`, and `info` as a JSON string."""
    try:
        job = results.wait_for(job.pk, settings.COMPAT_WAIT_SECONDS)
    except results.StillRunning as exc:
        raise ApiError(504, str(exc), atelier_job=exc.job_id) from None
    if failed := results.failure(job):
        raise ApiError(failed.status, failed.message, atelier_job=job.pk)
    images = list(job.images.all())
    width, height = job.params["width"], job.params["height"]
    settings_of = {
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "model": job.model_id,
        "operation": job.operation,
        "quality": job.params["quality"],
        "options": job.params.get("options", {}),
        "strength": (job.params.get("edit") or {}).get("strength"),
    }
    infotexts = [
        a1111.infotext({**settings_of, "seed": image.seed, "width": image.width, "height": image.height})
        for image in images
    ]
    info = {
        "prompt": job.prompt,
        "all_prompts": [job.prompt] * len(images),
        "negative_prompt": job.negative_prompt,
        "all_negative_prompts": [job.negative_prompt] * len(images),
        "seed": images[0].seed if images else None,
        "all_seeds": [image.seed for image in images],
        "width": width,
        "height": height,
        "sampler_name": nearest.used.get("sampler_name"),
        "cfg_scale": nearest.used.get("cfg_scale"),
        "steps": nearest.used.get("steps"),
        "batch_size": len(images),
        "sd_model_name": job.model_id,
        "sd_model_hash": None,
        "denoising_strength": job.params.get("edit", {}).get("strength"),
        "infotexts": infotexts,
        "styles": [],
        "job_timestamp": timezone.localtime(job.finished_at).strftime("%Y%m%d%H%M%S"),
        "version": "Atelier",
        "approximations": nearest.notes,
        "atelier_job": job.pk,
    }
    # A1111 echoes the request without the images it was sent.
    parameters = {k: None if k in ("init_images", "mask") else v for k, v in nearest.payload.items()}
    encoded = [results.image_base64(image) for image in images]
    return JsonResponse({"images": encoded, "parameters": parameters, "info": json.dumps(info)})
