"""The catalog: every provider and model Atelier knows, as data.

The prompt form, request validation, the API's model list and the docs table are all
generated from here. Adding a model is a data change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Operation(StrEnum):
    GENERATE = "generate"
    EDIT = "edit"  # inpaint with a mask
    OUTPAINT = "outpaint"
    VARIATION = "variation"
    REMIX = "remix"  # image-to-image with a strength
    UPSCALE = "upscale"
    CONTROL = "control"  # follow the source's structure, sketch, edges or depth
    STYLE = "style"  # take the source's style
    ERASE = "erase"  # remove what the mask covers
    SEARCH_REPLACE = "replace"  # swap what a search prompt finds for the prompt


@dataclass(frozen=True)
class Provider:
    id: str
    label: str
    # (key in settings.PROVIDER_SETTINGS[id], environment variable that sets it)
    required: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Size:
    aspect: str
    width: int
    height: int

    @property
    def value(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def label(self) -> str:
        return f"{self.aspect} · {self.width}×{self.height}"


@dataclass(frozen=True)
class Option:
    """A model-specific parameter with its type and allowed values."""

    name: str
    label: str
    kind: str  # "int", "float", "choice" or "bool"
    default: int | float | str | bool
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Model:
    id: str
    label: str
    provider: str
    operations: frozenset[Operation]
    sizes: tuple[Size, ...]
    qualities: tuple[str, ...]
    default_quality: str
    max_n: int = 1
    options: tuple[Option, ...] = ()
    # USD per image, keyed "quality" or "quality/WxH" (the more specific one wins).
    prices: dict[str, Decimal] = field(default_factory=dict)
    negative_prompt: bool = False
    seed: bool = False
    max_prompt_chars: int = 4000
    note: str = ""
    upscale_factors: tuple[int, ...] = ()
    # Sizes for edits: a model with size_step takes any WxH whose sides are multiples of it, up to
    # max_edge; one without takes only its listed sizes, and inputs are fitted to the nearest.
    size_step: int | None = None
    max_edge: int = 2048
    # Fixed settings the provider applies for this model (the offline renderer's style).
    provider_params: dict[str, str] = field(default_factory=dict)

    def size(self, value: str) -> Size | None:
        return next((s for s in self.sizes if s.value == value), None)

    def size_for_aspect(self, aspect: str) -> Size | None:
        return next((s for s in self.sizes if s.aspect == aspect), None)

    @property
    def control_kinds(self) -> tuple[str, ...]:
        """What a Control operation can follow in a source image (structure, sketch, edges, depth)."""
        kinds = self.provider_params.get("control_kinds", "")
        return tuple(kinds.split(",")) if kinds else ()

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def edit_size(self, width: int, height: int) -> Size | None:
        """The size an edit of a WxH input is made at, or None when it is past the model's limit."""
        if max(width, height) > self.max_edge:
            return None
        if self.size_step:
            step = self.size_step
            w, h = max(step, round(width / step) * step), max(step, round(height / step) * step)
            divisor = math.gcd(w, h)
            return Size(aspect_of(f"{w}x{h}") or f"{w // divisor}:{h // divisor}", w, h)
        return self.nearest_size(width / height)

    def nearest_size(self, ratio: float) -> Size:
        """The listed size whose aspect ratio is closest to `ratio` (width / height)."""
        return min(self.sizes, key=lambda s: abs(math.log((s.width / s.height) / ratio)))

    def price(self, quality: str, size: str) -> Decimal | None:
        """USD per image at this quality and size ("WxH"), or None where unknown."""
        return self.prices.get(f"{quality}/{size}", self.prices.get(quality))


def _sizes(*specs: tuple[str, int, int]) -> tuple[Size, ...]:
    return tuple(Size(aspect, w, h) for aspect, w, h in specs)


def _ops(*names: Operation) -> frozenset[Operation]:
    return frozenset(names)


def _usd(**prices: str) -> dict[str, Decimal]:
    return {key.replace("__", "/"): Decimal(value) for key, value in prices.items()}


PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in [
        Provider("offline", "Offline (built-in)", ()),
        Provider("openai", "OpenAI", (("api_key", "OPENAI_API_KEY"),)),
        Provider("stability", "Stability AI", (("api_key", "STABILITY_API_KEY"),)),
        Provider("replicate", "Replicate", (("api_key", "REPLICATE_API_TOKEN"),)),
        Provider("midjourney", "Midjourney (midjourney-proxy)", (("base_url", "MIDJOURNEY_PROXY_URL"),)),
    ]
}

# The nine sizes SDXL was trained on, labelled with the nearest common aspect ratio.
SDXL_SIZES = _sizes(
    ("1:1", 1024, 1024),
    ("4:3", 1152, 896),
    ("3:4", 896, 1152),
    ("3:2", 1216, 832),
    ("2:3", 832, 1216),
    ("16:9", 1344, 768),
    ("9:16", 768, 1344),
    ("21:9", 1536, 640),
    ("9:21", 640, 1536),
)
GPT_IMAGE_SIZES = _sizes(("1:1", 1024, 1024), ("3:2", 1536, 1024), ("2:3", 1024, 1536))
# gpt-image-2 takes any WxH with sides multiple of 16, ratio 1:3..3:1, up to 3840x2160.
GPT_IMAGE_2_SIZES = GPT_IMAGE_SIZES + _sizes(
    ("16:9", 1536, 864),
    ("9:16", 864, 1536),
    ("4:3", 1024, 768),
    ("3:4", 768, 1024),
    ("21:9", 1680, 720),
    ("16:9 4K", 3840, 2160),
)
# Stable Image and Flux take an aspect ratio and render about one megapixel.
MEGAPIXEL_SIZES = _sizes(
    ("1:1", 1024, 1024),
    ("16:9", 1344, 768),
    ("9:16", 768, 1344),
    ("3:2", 1216, 832),
    ("2:3", 832, 1216),
    ("4:5", 896, 1088),
    ("5:4", 1088, 896),
    ("21:9", 1536, 640),
    ("9:21", 640, 1536),
)
FLUX_SIZES = MEGAPIXEL_SIZES + _sizes(("4:3", 1152, 896), ("3:4", 896, 1152))
MIDJOURNEY_SIZES = _sizes(
    ("1:1", 1024, 1024),
    ("16:9", 1456, 816),
    ("9:16", 816, 1456),
    ("3:2", 1344, 896),
    ("2:3", 896, 1344),
    ("4:3", 1232, 928),
    ("3:4", 928, 1232),
)

GPT_IMAGE_OPTIONS = (
    Option("background", "Background", "choice", "auto", choices=("auto", "opaque", "transparent")),
    Option("output_format", "Output format", "choice", "png", choices=("png", "webp", "jpeg")),
    Option("output_compression", "Compression", "int", 100, 0, 100, help="webp/jpeg only"),
    Option("moderation", "Moderation", "choice", "auto", choices=("auto", "low")),
)
SDXL_SAMPLERS = (
    "K_DPMPP_2M", "DDIM", "DDPM", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2",
    "K_DPM_2_ANCESTRAL", "K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS",
)  # fmt: skip
STABILITY_STYLE_PRESETS = (
    "none", "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art",
    "enhance", "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound",
    "neon-punk", "origami", "photographic", "pixel-art", "tile-texture",
)  # fmt: skip
STABLE_IMAGE_FORMAT = Option("output_format", "Output format", "choice", "png", choices=("png", "jpeg", "webp"))
FLUX_FORMAT = Option("output_format", "Output format", "choice", "webp", choices=("webp", "jpg", "png"))
FLUX_QUALITY = Option("output_quality", "Output quality", "int", 80, 0, 100, help="jpg/webp only")
FLUX_PRO_OPTIONS = (
    FLUX_FORMAT,
    FLUX_QUALITY,
    Option("safety_tolerance", "Safety tolerance", "int", 2, 1, 6, help="1 strictest, 6 most permissive"),
    Option("prompt_upsampling", "Prompt upsampling", "bool", False),
)
MIDJOURNEY_OPTIONS = (
    Option("stylize", "Stylize", "int", 100, 0, 1000, help="--stylize"),
    Option("chaos", "Chaos", "int", 0, 0, 100, help="--chaos"),
    Option("weird", "Weird", "int", 0, 0, 3000, help="--weird"),
    Option("style_raw", "Raw style", "bool", False, help="--style raw"),
    Option("tile", "Tile", "bool", False, help="--tile"),
)
GPT_IMAGE_QUALITIES = ("auto", "low", "medium", "high")
STANDARD = ("standard",)


def _gpt_image(model_id: str, label: str, sizes: tuple[Size, ...], prices: dict[str, Decimal]) -> Model:
    any_size = sizes is GPT_IMAGE_2_SIZES
    return Model(
        model_id,
        label,
        "openai",
        _ops(Operation.GENERATE, Operation.EDIT),
        sizes,
        GPT_IMAGE_QUALITIES,
        "auto",
        max_n=10,
        options=GPT_IMAGE_OPTIONS,
        prices=prices,
        max_prompt_chars=32000,
        size_step=16 if any_size else None,
        max_edge=3840 if any_size else 1536,
        provider_params={"max_references": "15"},  # images[] beside the one being edited
    )


def _stable_image(
    model_id: str,
    label: str,
    usd: str,
    operations: frozenset[Operation],
    options: tuple[Option, ...],
    endpoint: str,
    upscale_factors: tuple[int, ...] = (),
    extra_params: dict[str, str] | None = None,
) -> Model:
    # endpoint: "ultra", "core", or "sd3:<model>" for the SD3.5 family behind /generate/sd3;
    # extra_params: which v2beta upscaler it uses, and the control kinds it offers.
    return Model(
        model_id,
        label,
        "stability",
        operations,
        MEGAPIXEL_SIZES,
        STANDARD,
        "standard",
        options=options,
        prices=_usd(standard=usd),
        negative_prompt=True,
        seed=True,
        max_prompt_chars=10000,
        upscale_factors=upscale_factors,
        provider_params={"endpoint": endpoint, **(extra_params or {})},
        # v2beta edits keep the input's size (up to ~9 megapixels), so edits are not snapped.
        size_step=8,
        max_edge=4096,
    )


def _flux(
    model_id: str,
    label: str,
    usd: str,
    operations: frozenset[Operation],
    options: tuple[Option, ...],
    max_n: int = 1,
    remix_fields: str = "",
) -> Model:
    provider_params = {"replicate_model": f"black-forest-labs/{model_id}"}
    if remix_fields:
        provider_params["remix_fields"] = remix_fields  # "image input,strength input"
    return Model(
        model_id,
        label,
        "replicate",
        operations,
        FLUX_SIZES,
        STANDARD,
        "standard",
        max_n=max_n,
        options=options,
        prices=_usd(standard=usd),
        seed=True,
        provider_params=provider_params,
    )


def _flux_tool(model_id: str, label: str, usd: str, operation: Operation, control_kind: str, image_input: str) -> Model:
    """Flux models that work from a source image only (control, redux): editor operations."""
    params = {"replicate_model": f"black-forest-labs/{model_id}", "image_input": image_input}
    if control_kind:
        params["control_kinds"] = control_kind
    return Model(
        model_id,
        label,
        "replicate",
        _ops(operation),
        FLUX_SIZES,
        STANDARD,
        "standard",
        options=(FLUX_FORMAT,),
        prices=_usd(standard=usd),
        seed=True,
        note=f"Works from a source image: open one in the editor ({operation.value}).",
        size_step=8,
        max_edge=2048,
        provider_params=params,
    )


def _midjourney(model_id: str, label: str, qualities: tuple[str, ...], version: str) -> Model:
    # Upscale and variation are not editor operations here: Midjourney only runs them on its own
    # grids (U1-U4, V1-V4), offered as follow-up actions on a result.
    return Model(
        model_id,
        label,
        "midjourney",
        _ops(Operation.GENERATE),
        MIDJOURNEY_SIZES,
        qualities,
        "1",
        options=MIDJOURNEY_OPTIONS,
        negative_prompt=True,
        seed=True,
        max_prompt_chars=6000,
        note="Through your own midjourney-proxy server; renders a 2x2 grid, then U1-U4 / V1-V4.",
        provider_params={"version": version},
    )


def _offline(model_id: str, label: str, style: str) -> Model:
    return Model(
        model_id,
        label,
        "offline",
        _ops(
            Operation.GENERATE,
            Operation.EDIT,
            Operation.OUTPAINT,
            Operation.VARIATION,
            Operation.REMIX,
            Operation.UPSCALE,
        ),
        SDXL_SIZES,
        ("draft", "standard", "high"),
        "standard",
        max_n=4,
        prices=_usd(draft="0", standard="0", high="0"),
        negative_prompt=True,
        seed=True,
        max_prompt_chars=2000,
        note=f"{label} — not an AI model. A procedural renderer built into Atelier.",
        upscale_factors=(2, 4),
        size_step=8,
        max_edge=4096,
        provider_params={"style": style},
    )


RETIRED_NOTE = "Retired from OpenAI's API in May 2026; served by OpenAI-compatible servers."
GENERATE_REMIX = _ops(Operation.GENERATE, Operation.REMIX)

MODELS: dict[str, Model] = {
    m.id: m
    for m in [
        _offline("offline", "Offline sketch", "sketch"),
        _offline("offline-watercolor", "Offline watercolour", "watercolor"),
        _offline("offline-mosaic", "Offline mosaic", "mosaic"),
        _gpt_image("gpt-image-2", "GPT Image 2", GPT_IMAGE_2_SIZES, {}),
        _gpt_image("gpt-image-1.5", "GPT Image 1.5", GPT_IMAGE_SIZES, _usd(low="0.009", medium="0.034", high="0.133")),
        _gpt_image(
            "gpt-image-1-mini", "GPT Image 1 mini", GPT_IMAGE_SIZES, _usd(low="0.005", medium="0.011", high="0.036")
        ),
        Model(
            "dall-e-3",
            "DALL·E 3 (OpenAI-compatible servers)",
            "openai",
            _ops(Operation.GENERATE),
            _sizes(("1:1", 1024, 1024), ("16:9", 1792, 1024), ("9:16", 1024, 1792)),
            ("standard", "hd"),
            "standard",
            options=(Option("style", "Style", "choice", "vivid", choices=("vivid", "natural")),),
            prices=_usd(
                standard="0.040",
                hd="0.080",
                standard__1792x1024="0.080",
                standard__1024x1792="0.080",
                hd__1792x1024="0.120",
                hd__1024x1792="0.120",
            ),
            note=RETIRED_NOTE,
            provider_params={"response_format": "b64_json"},
        ),
        Model(
            "dall-e-2",
            "DALL·E 2 (OpenAI-compatible servers)",
            "openai",
            _ops(Operation.GENERATE, Operation.EDIT, Operation.VARIATION),
            _sizes(("1:1", 1024, 1024), ("1:1", 512, 512), ("1:1", 256, 256)),
            STANDARD,
            "standard",
            max_n=10,
            prices=_usd(standard="0.020", standard__512x512="0.018", standard__256x256="0.016"),
            max_prompt_chars=1000,
            note=RETIRED_NOTE,
            provider_params={"response_format": "b64_json"},
        ),
        Model(
            "sdxl-1.0",
            "Stable Diffusion XL 1.0",
            "stability",
            _ops(Operation.GENERATE, Operation.REMIX, Operation.EDIT, Operation.UPSCALE),
            SDXL_SIZES,
            STANDARD,
            "standard",
            max_n=10,
            options=(
                Option("cfg_scale", "CFG scale", "float", 7.0, 0, 35),
                Option("steps", "Steps", "int", 30, 10, 50),
                Option("sampler", "Sampler", "choice", "K_DPMPP_2M", choices=SDXL_SAMPLERS),
                Option("style_preset", "Style preset", "choice", "none", choices=STABILITY_STYLE_PRESETS),
            ),
            negative_prompt=True,
            seed=True,
            max_prompt_chars=2000,
            upscale_factors=(2,),  # ESRGAN x2
            provider_params={"engine": "stable-diffusion-xl-1024-v1-0"},
        ),
        _stable_image(
            "stable-image-ultra",
            "Stable Image Ultra",
            "0.08",
            _ops(Operation.GENERATE, Operation.REMIX, Operation.UPSCALE),
            (STABLE_IMAGE_FORMAT,),
            "ultra",
            upscale_factors=(4,),
            extra_params={"upscale": "creative"},
        ),
        _stable_image(
            "stable-image-core",
            "Stable Image Core",
            "0.03",
            _ops(
                Operation.GENERATE,
                Operation.EDIT,
                Operation.OUTPAINT,
                Operation.ERASE,
                Operation.SEARCH_REPLACE,
                Operation.CONTROL,
                Operation.STYLE,
                Operation.UPSCALE,
            ),
            (
                STABLE_IMAGE_FORMAT,
                Option("style_preset", "Style preset", "choice", "none", choices=STABILITY_STYLE_PRESETS),
            ),
            "core",
            upscale_factors=(4,),
            extra_params={"upscale": "fast", "control_kinds": "structure,sketch"},
        ),
        _stable_image(
            "sd3.5-large",
            "Stable Diffusion 3.5 Large",
            "0.065",
            _ops(Operation.GENERATE, Operation.REMIX, Operation.UPSCALE),
            (STABLE_IMAGE_FORMAT,),
            "sd3:sd3.5-large",
            upscale_factors=(4,),
            extra_params={"upscale": "conservative"},
        ),
        _stable_image(
            "sd3.5-large-turbo",
            "Stable Diffusion 3.5 Large Turbo",
            "0.04",
            GENERATE_REMIX,
            (STABLE_IMAGE_FORMAT,),
            "sd3:sd3.5-large-turbo",
        ),
        _stable_image(
            "sd3.5-medium",
            "Stable Diffusion 3.5 Medium",
            "0.035",
            GENERATE_REMIX,
            (STABLE_IMAGE_FORMAT,),
            "sd3:sd3.5-medium",
        ),
        _flux(
            "flux-schnell",
            "FLUX.1 [schnell]",
            "0.003",
            _ops(Operation.GENERATE),
            (
                Option("num_inference_steps", "Steps", "int", 4, 1, 4),
                FLUX_FORMAT,
                FLUX_QUALITY,
                Option("go_fast", "Go fast", "bool", True),
                Option("megapixels", "Megapixels", "choice", "1", choices=("1", "0.25")),
            ),
            max_n=4,
        ),
        _flux(
            "flux-dev",
            "FLUX.1 [dev]",
            "0.025",
            GENERATE_REMIX,
            (
                Option("num_inference_steps", "Steps", "int", 28, 1, 50),
                Option("guidance", "Guidance", "float", 3.0, 0, 10),
                FLUX_FORMAT,
                FLUX_QUALITY,
            ),
            max_n=4,
            remix_fields="image,prompt_strength",
        ),
        _flux("flux-pro", "FLUX.1 [pro]", "0.055", _ops(Operation.GENERATE), FLUX_PRO_OPTIONS),
        _flux("flux-1.1-pro", "FLUX1.1 [pro]", "0.04", _ops(Operation.GENERATE), FLUX_PRO_OPTIONS),
        _flux(
            "flux-1.1-pro-ultra",
            "FLUX1.1 [pro] ultra",
            "0.06",
            GENERATE_REMIX,
            (*FLUX_PRO_OPTIONS, Option("raw", "Raw", "bool", False)),
            remix_fields="image_prompt,image_prompt_strength",
        ),
        Model(
            "flux-fill-pro",
            "FLUX.1 Fill [pro]",
            "replicate",
            _ops(Operation.EDIT, Operation.OUTPAINT),
            FLUX_SIZES,
            STANDARD,
            "standard",
            options=(
                Option("steps", "Steps", "int", 50, 15, 50),
                Option("guidance", "Guidance", "float", 60.0, 1.5, 100),
                Option("safety_tolerance", "Safety tolerance", "int", 2, 1, 6, help="1 strictest, 6 most permissive"),
                Option("output_format", "Output format", "choice", "png", choices=("png", "jpg")),
            ),
            prices=_usd(standard="0.05"),
            seed=True,
            note="Inpainting and outpainting only: open an image in the editor to use it.",
            size_step=8,
            max_edge=2048,
            provider_params={"replicate_model": "black-forest-labs/flux-fill-pro", "mask_input": "mask"},
        ),
        _flux_tool("flux-canny-pro", "FLUX.1 Canny [pro]", "0.05", Operation.CONTROL, "edges", "control_image"),
        _flux_tool("flux-depth-pro", "FLUX.1 Depth [pro]", "0.05", Operation.CONTROL, "depth", "control_image"),
        _flux_tool("flux-redux-dev", "FLUX.1 Redux [dev]", "0.025", Operation.VARIATION, "", "redux_image"),
        _midjourney("midjourney-v7", "Midjourney v7", ("1", "2", "4"), "7"),
        _midjourney("midjourney-v6.1", "Midjourney v6.1", ("0.25", "0.5", "1", "2"), "6.1"),
    ]
}

SEED_MAX = 4_294_967_295


def get_model(model_id: str) -> Model | None:
    return MODELS.get(model_id)


def models_for(operation: Operation) -> list[Model]:
    return [m for m in MODELS.values() if operation in m.operations]


def aspect_of(size_value: str) -> str:
    """The aspect ratio label of a size value such as "1344x768", from any model that offers it."""
    return next((s.aspect for m in MODELS.values() for s in m.sizes if s.value == size_value), "")


@dataclass(frozen=True)
class Availability:
    enabled: bool
    reason: str = ""


def availability(model: Model) -> Availability:
    """Whether a model can take jobs here, and if not, what the user should do about it."""
    from django.conf import settings

    from studio import providers

    if not providers.is_implemented(model.provider):
        return Availability(False, "provider not implemented yet in this version of Atelier")
    configured = settings.PROVIDER_SETTINGS.get(model.provider, {})
    missing = [env_name for key, env_name in PROVIDERS[model.provider].required if not configured.get(key)]
    if missing:
        return Availability(False, "set " + " and ".join(missing))
    return Availability(True)
