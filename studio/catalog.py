"""The catalog: every provider and model Atelier knows, and what each one accepts, as typed data.

The prompt form, the one request validator (studio.specs), the editor's fitting, the API's model
list and docs/models.md all read these fields. Adding a model is a data change. Each rule that a
real API enforces cites where it is documented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any


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
    INSTRUCT = "instruct"  # change the whole image as the prompt says ("make it night"), no mask


@dataclass(frozen=True)
class Provider:
    id: str
    label: str
    # (key in settings.PROVIDER_SETTINGS[id], environment variable that sets it)
    required: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Size:
    """A size a model renders at, with the aspect ratio it is offered as (SDXL's 1152×896 is "4:3").

    `aspect` is always a ratio "W:H" (it is stored, sent as `aspect_ratio` and matched against what
    callers ask for); `name` is what a preset is called beside it ("4K"), for people only."""

    aspect: str
    width: int
    height: int
    name: str = ""

    @classmethod
    def of(cls, width: int, height: int) -> Size:
        """A free size, labelled with its reduced ratio (1536×864 is "16:9")."""
        if width <= 0 or height <= 0:
            raise ValueError(f"a size needs two positive sides, not {width}×{height}")
        divisor = math.gcd(width, height)
        return cls(f"{width // divisor}:{height // divisor}", width, height)

    @property
    def value(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def label(self) -> str:
        named = f"{self.aspect} {self.name}" if self.name else self.aspect
        return f"{named} · {self.width}×{self.height}"

    @property
    def ratio(self) -> float:
        return self.width / self.height

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class SizeRule:
    """Free sizes a model takes: any W×H on a grid of `step`, within edge, pixel and ratio bounds."""

    step: int
    max_edge: int
    min_edge: int = 1
    min_pixels: int = 0
    max_pixels: int = 0  # 0: only max_edge bounds it
    max_ratio: float = 0.0  # longer side / shorter side; 0: any
    source: str = ""

    def problem(self, width: int, height: int) -> str:
        """Why W×H is not accepted, or "" when it is."""
        if width % self.step or height % self.step:
            return f"both sides in multiples of {self.step}"
        if max(width, height) > self.max_edge:
            return f"at most {self.max_edge} pixels a side"
        if min(width, height) < self.min_edge:
            return f"at least {self.min_edge} pixels a side"
        if self.max_pixels and width * height > self.max_pixels:
            return f"at most {self.max_pixels:,} pixels"
        if width * height < self.min_pixels:
            return f"at least {self.min_pixels:,} pixels"
        if self.max_ratio and max(width, height) / min(width, height) > self.max_ratio + 1e-9:
            return f"an aspect ratio between 1:{self.max_ratio:g} and {self.max_ratio:g}:1"
        return ""

    def fit(self, width: int, height: int) -> Size | None:
        """The accepted size closest to W×H in shape and area, or None if there is none."""
        ratio = width / height
        if self.max_ratio:
            ratio = min(max(ratio, 1 / self.max_ratio), self.max_ratio)
        area = width * height
        if self.max_pixels:
            area = min(area, self.max_pixels)
        area = max(area, self.min_pixels)
        w, h = math.sqrt(area * ratio), math.sqrt(area / ratio)
        grow = max(1.0, self.min_edge / min(w, h))  # a narrow input grows until its short side fits
        w, h = w * grow, h * grow
        shrink = min(1.0, self.max_edge / max(w, h))
        w, h = w * shrink, h * shrink
        candidates = [
            (cw, ch)
            for cw in {math.floor(w / self.step) * self.step, math.ceil(w / self.step) * self.step}
            for ch in {math.floor(h / self.step) * self.step, math.ceil(h / self.step) * self.step}
            if cw > 0 and ch > 0 and not self.problem(cw, ch)
        ]
        if not candidates:
            return None
        best = min(candidates, key=lambda c: (abs(math.log(c[0] / c[1] / ratio)), abs(c[0] * c[1] - w * h)))
        return Size.of(*best)


class OptionKind(StrEnum):
    INT = "int"
    FLOAT = "float"
    CHOICE = "choice"
    BOOL = "bool"


@dataclass(frozen=True)
class When:
    """A condition on another option's value, e.g. output_format in (jpeg, webp)."""

    option: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Option:
    """A model-specific parameter with its type and allowed values."""

    name: str
    label: str
    kind: OptionKind
    default: int | float | str | bool | None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    # Sent only when this holds (compression only for jpeg/webp); otherwise it is left out.
    only_with: When | None = None
    # Operations that take it; None: every operation of the model.
    operations: frozenset[Operation] | None = None
    # A choice that means "send nothing" (Stability's style_preset "none": the API has no such value).
    unset: str | None = None

    @property
    def optional(self) -> bool:
        """None means "not sent": the provider uses its own default."""
        return self.default is None


@dataclass(frozen=True)
class Requires:
    """A value of one option needs another option's value (transparent needs png or webp)."""

    option: str
    values: tuple[Any, ...]
    needs: When
    source: str = ""


@dataclass(frozen=True)
class Upscale:
    """How a model upscales: by which factors, the largest input it takes and output it makes."""

    factors: tuple[int, ...]
    max_input_pixels: int
    max_output_edge: int
    max_output_pixels: int = 0  # 0: only the edge bounds the output
    source: str = ""


@dataclass(frozen=True)
class OperationLimits:
    """Where one operation of a model takes less than the model does: its endpoint's own limits
    (SDXL's ESRGAN upscale returns one image and takes no negative prompt)."""

    max_n: int | None = None  # None: the model's max_n
    negative_prompt: bool | None = None  # None: as the model
    source: str = ""


# How each provider addresses a model on the wire: typed, one class per provider.
@dataclass(frozen=True)
class OfflineWire:
    style: str


@dataclass(frozen=True)
class OpenAIWire:
    response_format: str = ""  # retired DALL·E shapes; GPT Image models never take it
    partial_images: bool = True  # can stream partial images as previews (GPT Image; not DALL·E)


@dataclass(frozen=True)
class StabilityWire:
    engine: str = ""  # v1 engine (SDXL); empty for v2beta Stable Image
    endpoint: str = ""  # v2beta generate endpoint: ultra, core or sd3
    sd3_model: str = ""  # the `model` field of /generate/sd3
    upscaler: str = ""  # v2beta upscaler: fast, conservative or creative


@dataclass(frozen=True)
class ReplicateWire:
    model: str  # owner/name
    image_input: str = ""  # the source image for control, variation, remix or instruct
    strength_input: str = ""  # remix: how far from the source
    invert_strength: bool = False
    images_input: str = ""  # a list of input images (FLUX.2)
    aspect_input: str = "aspect_ratio"  # "" when the model takes no aspect ratio
    match_input_aspect: str = ""  # the aspect_ratio value that keeps the input's shape
    outputs_input: str = ""  # num_outputs where the model renders several


@dataclass(frozen=True)
class MidjourneyWire:
    version: str


Wire = OfflineWire | OpenAIWire | StabilityWire | ReplicateWire | MidjourneyWire


MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class TokenRates:
    """USD per million tokens of each kind a GPT Image response's `usage` counts."""

    text_input: Decimal
    image_input: Decimal
    image_output: Decimal
    text_output: Decimal = Decimal(0)  # the reasoning text some models bill (output_tokens_details)

    def cost(self, *, text_input: int, image_input: int, image_output: int, text_output: int = 0) -> Decimal:
        tokens = (
            text_input * self.text_input
            + image_input * self.image_input
            + image_output * self.image_output
            + text_output * self.text_output
        )
        return tokens / MILLION


@dataclass(frozen=True)
class Pricing:
    """What a model costs, the way its vendor bills it, and where and when the figures were read.

    The recorded cost of a job comes from the provider's own figures where it gives them (GPT Image:
    `tokens` × its usage), else from these prices for what came back. The estimate a budget checks
    before the call comes from `per_image` (or the credits, or the plan rate)."""

    checked: str  # YYYY-MM-DD: when the figures were read
    source: str  # the vendor's pricing page
    # USD per output image, keyed "quality" or "quality/WxH" (the more specific one wins).
    per_image: dict[str, Decimal] = field(default_factory=dict)
    tokens: TokenRates | None = None
    # Stability: credits each image costs, by operation, and what one credit costs.
    credits: dict[Operation, Decimal] = field(default_factory=dict)
    usd_per_credit: Decimal = Decimal(0)
    # Midjourney: USD per job (a grid or an upscale alike), the default of MIDJOURNEY_USD_PER_JOB.
    per_job: Decimal | None = None
    note: str = ""  # what is approximate about these figures

    def image_price(self, quality: str, size: str) -> Decimal | None:
        """USD per image at this quality and size ("WxH"), or None where no figure is given."""
        return self.per_image.get(f"{quality}/{size}", self.per_image.get(quality))

    def credit_price(self, operation: Operation) -> Decimal | None:
        """USD per image of an operation billed in credits, or None where no figure is given."""
        credits = self.credits.get(operation)
        return credits * self.usd_per_credit if credits is not None else None


@dataclass(frozen=True)
class Model:
    id: str
    label: str
    provider: str
    operations: frozenset[Operation]
    sizes: tuple[Size, ...]  # the presets a generation picks from, by aspect ratio
    qualities: tuple[str, ...]
    default_quality: str
    wire: Wire
    max_n: int = 1
    options: tuple[Option, ...] = ()
    rules: tuple[Requires, ...] = ()
    pricing: Pricing | None = None  # None: no known price (Atelier reports its cost as unknown)
    negative_prompt: bool = False
    seed_max: int | None = None  # None: the model takes no seed
    max_prompt_chars: int = 4000
    note: str = ""
    # Free sizes: edits are fitted to this rule (inputs keep their shape); None fits them to the
    # nearest preset. With free_generate, generations may ask for any size the rule accepts too.
    size_rule: SizeRule | None = None
    free_generate: bool = False
    upscale: Upscale | None = None
    control_kinds: tuple[str, ...] = ()  # what a Control operation can follow in a source image
    max_references: int = 0  # extra images an edit may draw from, beside the one edited
    # Outpaint: the most pixels one side may grow by, and whether the provider extends the original
    # itself (it then gets exactly the source's pixels; others get the canvas, fitted to their sizes).
    max_extend: int = 4096
    extends_original: bool = False
    grid_actions: bool = False  # Midjourney: U1-U4 / V1-V4 on its own grids, as follow-up jobs
    # Operations whose endpoint takes less than the model's max_n, negative prompt (options say
    # their own operations).
    limits: dict[Operation, OperationLimits] = field(default_factory=dict)
    retired: bool = False  # gone from the vendor's API; reachable on compatible servers only
    sources: tuple[str, ...] = ()  # where the limits above are documented

    @property
    def seed(self) -> bool:
        return self.seed_max is not None

    def size(self, value: str) -> Size | None:
        return next((s for s in self.sizes if s.value == value), None)

    def size_for_aspect(self, aspect: str) -> Size | None:
        return next((s for s in self.sizes if s.aspect == aspect), None)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def options_for(self, operation: Operation) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.operations is None or operation in o.operations)

    def max_n_for(self, operation: Operation) -> int:
        """The most images one request of this operation makes."""
        limit = self.limits.get(operation)
        return limit.max_n if limit and limit.max_n is not None else self.max_n

    def takes_negative_prompt(self, operation: Operation) -> bool:
        limit = self.limits.get(operation)
        return limit.negative_prompt if limit and limit.negative_prompt is not None else self.negative_prompt

    def nearest_size(self, ratio: float) -> Size:
        """The preset whose aspect ratio is closest to `ratio` (width / height)."""
        return min(self.sizes, key=lambda s: abs(math.log(s.ratio / ratio)))

    def aspect_for(self, size: Size) -> str:
        """The aspect ratio to ask for a size: its own where offered, else the closest preset's."""
        return size.aspect if self.size_for_aspect(size.aspect) else self.nearest_size(size.ratio).aspect

    def fit(self, width: int, height: int) -> Size | None:
        """The size an edit of a W×H input is made at: the rule's closest, else the nearest preset."""
        if self.size_rule:
            return self.size_rule.fit(width, height)
        return self.nearest_size(width / height)


def _sizes(*specs: tuple[str, int, int]) -> tuple[Size, ...]:
    return tuple(Size(aspect, w, h) for aspect, w, h in specs)


def _ops(*names: Operation) -> frozenset[Operation]:
    return frozenset(names)


def _usd(**prices: str) -> dict[str, Decimal]:
    return {key.replace("__", "/"): Decimal(value) for key, value in prices.items()}


def _choice(name: str, label: str, default: str | None, choices: tuple[str, ...], **kw: Any) -> Option:
    return Option(name, label, OptionKind.CHOICE, default, choices=choices, **kw)


def _int(name: str, label: str, default: int, low: int, high: int, **kw: Any) -> Option:
    return Option(name, label, OptionKind.INT, default, low, high, **kw)


def _float(name: str, label: str, default: float, low: float, high: float, **kw: Any) -> Option:
    return Option(name, label, OptionKind.FLOAT, default, low, high, **kw)


def _bool(name: str, label: str, default: bool, **kw: Any) -> Option:
    return Option(name, label, OptionKind.BOOL, default, **kw)


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

SEED_MAX = 4_294_967_295
# Stability's v2beta endpoints take seeds 0 … 4,294,967,294 (one less than v1 and the others).
STABILITY_V2_SEED_MAX = 4_294_967_294

OPENAI_SDK = "openai SDK types/image_generate_params.py and image_edit_params.py (openai==3.57.0)"
STABILITY_V1 = "platform.stability.ai/docs/api-reference (v1 generation)"
STABILITY_V2 = "platform.stability.ai/docs/api-reference (v2beta stable-image)"

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
GPT_IMAGE_2_SIZES = (
    *GPT_IMAGE_SIZES,
    *_sizes(("16:9", 1536, 864), ("9:16", 864, 1536), ("4:3", 1024, 768), ("3:4", 768, 1024), ("21:9", 1680, 720)),
    Size("16:9", 3840, 2160, name="4K"),  # second to the everyday 16:9, so asking by ratio gets that one
)
# gpt-image-2's free sizes, from OpenAI's image generation guide ("Size and quality options"):
# "Maximum edge length must be less than or equal to 3840px - Both edges must be multiples of 16px -
# Long edge to short edge ratio must not exceed 3:1 - Total pixels must be at least 655,360 and no
# more than 8,294,400". The SDK's `size` doc says the same of gpt-image-2 and of the 2.5 pair (16,
# 1:3…3:1, at most 3840x2160) but of their pixel bounds only "the model's current pixel and edge
# limits": the guide's 655,360 minimum for the 2.5 pair is Atelier's assumption, not documented.
OPENAI_IMAGE_GUIDE = (
    "developers.openai.com/api/docs/guides/image-generation (Size and quality options: gpt-image-2 "
    "size constraints, 655,360–8,294,400 pixels; copy of 2026-07-27)"
)
GPT_IMAGE_2_RULE = SizeRule(
    step=16, max_edge=3840, min_pixels=655_360, max_pixels=3840 * 2160, max_ratio=3.0, source=OPENAI_IMAGE_GUIDE
)
GPT_IMAGE_2_5_RULE = replace(
    GPT_IMAGE_2_RULE,
    source="openai SDK image_generate_params `size` (the 2.5 pair: multiples of 16, 1:3…3:1, at most 3840x2160; "
    "its pixel bounds are not stated, gpt-image-2's 655,360–8,294,400 are assumed)",
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
# FLUX.1 [pro] and FLUX1.1 [pro] list no 21:9 or 9:21 in their aspect_ratio enum.
FLUX_PRO_SIZES = tuple(s for s in FLUX_SIZES if s.aspect not in ("21:9", "9:21"))
MIDJOURNEY_SIZES = _sizes(
    ("1:1", 1024, 1024),
    ("16:9", 1456, 816),
    ("9:16", 816, 1456),
    ("3:2", 1344, 896),
    ("2:3", 896, 1344),
    ("4:3", 1232, 928),
    ("3:4", 928, 1232),
)
# v2beta edits keep the input's size: at least 64 px a side, at most 9,437,184 pixels, 1:2.5…2.5:1.
STABILITY_EDIT_RULE = SizeRule(
    step=1, max_edge=9_437_184 // 64, min_edge=64, max_pixels=9_437_184, max_ratio=2.5, source=STABILITY_V2
)
# Inputs of the FLUX.1 tools (Fill, Canny, Depth, Redux) and Kontext: Atelier's own bound, not a
# documented one — their schemas on Replicate state no input size limit. Inputs are fitted to at most
# 2048×2048 (4 MP, FLUX.2's documented maximum, as a conservative stand-in), 256 px a side at least,
# on a grid of 8, from 1:4 to 4:1, so an upload of any size or shape is sent at a size these models
# render well; no source is cited because there is none to cite.
FLUX_EDIT_RULE = SizeRule(step=8, max_edge=2048, min_edge=256, max_pixels=2048 * 2048, max_ratio=4.0)
# FLUX.2's schema on Replicate: width and height "Min: 256 Max: 2048 ... Must be a multiple of 16" and
# "The maximum image size is 2048x2048" ([pro]); FLUX.2 [flex]'s asks multiples of 32, used here for
# both models as the stricter grid. The 1:4…4:1 ratio bound is Atelier's own.
FLUX_2_SCHEMA = "replicate.com/black-forest-labs/flux-2-pro/api/schema (width, height 256–2048; at most 2048x2048)"
FLUX_2_RULE = SizeRule(
    step=32, max_edge=2048, min_edge=256, max_pixels=2048 * 2048, max_ratio=4.0, source=FLUX_2_SCHEMA
)
OFFLINE_RULE = SizeRule(step=8, max_edge=4096, min_edge=64)

TRANSPARENT_NEEDS_ALPHA = Requires(
    "background", ("transparent",), When("output_format", ("png", "webp")), source=OPENAI_SDK
)
GPT_IMAGE_OPTIONS = (
    _choice("background", "Background", "auto", ("auto", "opaque", "transparent")),
    _choice("output_format", "Output format", "png", ("png", "webp", "jpeg")),
    _int("output_compression", "Compression", 100, 0, 100, help="jpeg/webp only",
         only_with=When("output_format", ("jpeg", "webp"))),
    # images.edit takes no moderation (the SDK's image_edit_params has none).
    _choice("moderation", "Moderation", "auto", ("auto", "low"), operations=frozenset({Operation.GENERATE})),
)  # fmt: skip
EDITS = frozenset({Operation.EDIT, Operation.INSTRUCT})


def _input_fidelity(*choices: str) -> Option:
    """How hard an edit holds on to the input's features: "Supports high and low on gpt-image-1.5;
    gpt-image-1-mini supports only low. For gpt-image-2, omit this parameter" (image_edit_params)."""
    return _choice("input_fidelity", "Input fidelity", None, choices, operations=EDITS, help="edits only")


GPT_IMAGE_2_5_OPTIONS = (
    *GPT_IMAGE_OPTIONS,
    _choice("complexity", "Complexity", None, ("low", "medium", "high"), help="planning effort; blank: model default"),
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
# What each Stability endpoint takes, from its request body in the API reference (v1:
# GenerationRequestOptionalParams on text-to-image, image-to-image and masking; RealESRGAN upscale takes
# only image, width, height. v2beta: style_preset on generate/core, inpaint, outpaint,
# search-and-replace, control sketch/structure/style and the creative upscale, not on erase or the
# fast and conservative upscales; negative_prompt everywhere but outpaint, erase and the fast upscale,
# which takes only image and output_format).
STABILITY_V2_BODIES = "platform.stability.ai/docs/api-reference (v2beta request bodies, endpoint by endpoint)"
SDXL_DIFFUSION = frozenset({Operation.GENERATE, Operation.REMIX, Operation.EDIT})  # not the ESRGAN upscale
STABLE_IMAGE_FORMAT = _choice("output_format", "Output format", "png", ("png", "jpeg", "webp"))
# /generate/sd3 takes png or jpeg only.
SD3_FORMAT = _choice("output_format", "Output format", "png", ("png", "jpeg"))
FLUX_FORMAT = _choice("output_format", "Output format", "webp", ("webp", "jpg", "png"))
FLUX_JPG_PNG = _choice("output_format", "Output format", "jpg", ("jpg", "png"))
FLUX_QUALITY = _int("output_quality", "Output quality", 80, 0, 100, help="jpg/webp only",
                    only_with=When("output_format", ("jpg", "webp")))  # fmt: skip
SAFETY_TOLERANCE = _int("safety_tolerance", "Safety tolerance", 2, 1, 6, help="1 strictest, 6 most permissive")
FLUX_PRO_OPTIONS = (FLUX_FORMAT, FLUX_QUALITY, SAFETY_TOLERANCE, _bool("prompt_upsampling", "Prompt upsampling", False))
MIDJOURNEY_OPTIONS = (
    _int("stylize", "Stylize", 100, 0, 1000, help="--stylize"),
    _int("chaos", "Chaos", 0, 0, 100, help="--chaos"),
    _int("weird", "Weird", 0, 0, 3000, help="--weird"),
    _bool("style_raw", "Raw style", False, help="--style raw"),
    _bool("tile", "Tile", False, help="--tile"),
)
GPT_IMAGE_QUALITIES = ("auto", "low", "medium", "high")
STANDARD = ("standard",)
RETIRED_NOTE = "Retired from OpenAI's API on {date}; for OpenAI-compatible servers only."

# Prices: recorded on this date from stored copies of the cited pages, or of guides quoting them
# (no live web here); a price can change at any time, so the docs say to check the source.
PRICES_READ = "2026-11-29"
OPENAI_PRICING = "https://developers.openai.com/api/docs/pricing"
STABILITY_PRICING = "https://platform.stability.ai/pricing"
STABILITY_USD_PER_CREDIT = Decimal("0.01")
MIDJOURNEY_PLANS = "https://docs.midjourney.com/hc/en-us/articles/27870484040333-Comparing-Midjourney-Plans"
GPT_IMAGE_NOTE = (
    "The cost recorded is the tokens OpenAI's answer counts × these rates. The per-image figures, used "
    "for budgets before the call, are OpenAI's for 1024×1024 (and the sizes named); a larger free size "
    "is estimated at the square root of its pixels over 1024×1024 times that, which errs high."
)
STABILITY_NOTE = (
    "Stability's answers carry no credit count: the cost is the credits its pricing page lists for the "
    "call, per image, at $0.01 a credit. Generation rates are confirmed by several copies of the page; "
    "edit, control and upscale rates (raised in 2025) less so: check them."
)


def _gpt_pricing(tokens: TokenRates, note: str = GPT_IMAGE_NOTE, **per_image: tuple[str, str]) -> Pricing:
    """Token rates, and per quality OpenAI's USD per image at 1024×1024 and at 1536×1024 / 1024×1536."""
    figures = {}
    for quality, (square, oblong) in per_image.items():
        figures |= {quality: square, f"{quality}__1536x1024": oblong, f"{quality}__1024x1536": oblong}
    return Pricing(PRICES_READ, OPENAI_PRICING, _usd(**figures), tokens=tokens, note=note)


def _tokens(text_input: str, image_input: str, image_output: str, text_output: str = "0") -> TokenRates:
    return TokenRates(Decimal(text_input), Decimal(image_input), Decimal(image_output), Decimal(text_output))


def _stability_pricing(note: str = STABILITY_NOTE, **credits: str) -> Pricing:
    return Pricing(
        PRICES_READ,
        STABILITY_PRICING,
        credits={Operation(op): Decimal(n) for op, n in credits.items()},
        usd_per_credit=STABILITY_USD_PER_CREDIT,
        note=note,
    )


def _replicate_pricing(model_id: str, usd: str, note: str = "") -> Pricing:
    """Replicate bills the official Black Forest Labs models per output image."""
    return Pricing(PRICES_READ, f"https://replicate.com/black-forest-labs/{model_id}", _usd(standard=usd), note=note)


GPT_IMAGE_2_TOKENS = _tokens("5", "8", "30", text_output="10")


def _gpt_image(model_id: str, label: str, *, free: bool, pricing: Pricing, **kw: Any) -> Model:
    fields: dict[str, Any] = {
        "operations": _ops(Operation.GENERATE, Operation.EDIT, Operation.INSTRUCT),
        "sizes": GPT_IMAGE_2_SIZES if free else GPT_IMAGE_SIZES,
        "qualities": GPT_IMAGE_QUALITIES,
        "options": GPT_IMAGE_OPTIONS,
        "rules": (TRANSPARENT_NEEDS_ALPHA,),
        # Edits of the fixed-size models are fitted to the nearest of their three sizes.
        "size_rule": GPT_IMAGE_2_RULE if free else None,
        "free_generate": free,
        "max_references": 15,  # image[] beside the one being edited
        **kw,
    }
    return Model(
        model_id,
        label,
        "openai",
        default_quality="auto",
        wire=OpenAIWire(),
        max_n=10,
        pricing=pricing,
        max_prompt_chars=32000,
        sources=(OPENAI_SDK, fields["size_rule"].source) if fields["size_rule"] else (OPENAI_SDK,),
        **fields,
    )


# Models the SDK names (image_model.py; images.generate's and images.edit's `model`) but documents
# no setting of: only what it says of "the GPT image models" in general is offered — the three
# standard sizes, quality auto/low/medium/high, background auto/opaque ("Transparent backgrounds
# are available for supported GPT Image models", which these are not named among), png/webp/jpeg
# with compression for jpeg/webp, moderation on generations. Nothing model-specific: no free sizes,
# xhigh/max, complexity, input_fidelity, GIF/SVG.
GPT_IMAGE_GENERAL_OPTIONS = (
    _choice("background", "Background", "auto", ("auto", "opaque")),
    *GPT_IMAGE_OPTIONS[1:],
)
GPT_IMAGE_GENERAL_NOTE = (
    "Named by the SDK without settings of its own: offered only with what the SDK says of all GPT image "
    "models (the three standard sizes, auto/low/medium/high, opaque or automatic background, png/webp/jpeg)."
)
# No price is published for them: budgets count every quality at the highest published GPT Image
# per-image figure for the size (gpt-image-2 high at 1024×1024, gpt-image-1.5 high at 1536×1024 and
# 1024×1536), the project's rule for a setting without its own figure; with no token rates, the cost
# recorded is that estimate too, until a price is known (manage.py reprice_jobs).
UNPUBLISHED_GPT_PRICE = ("0.211", "0.2")


def _gpt_image_unpublished(model_id: str, label: str, **kw: Any) -> Model:
    square, oblong = UNPUBLISHED_GPT_PRICE
    figures = {f"{q}{size}": usd for q in GPT_IMAGE_QUALITIES for size, usd in (("", square), ("__1536x1024", oblong),
                                                                              ("__1024x1536", oblong))}  # fmt: skip
    pricing = Pricing(
        PRICES_READ,
        OPENAI_PRICING,
        _usd(**figures),
        note="No published price: every quality is estimated at the highest published GPT Image figure for "
        "its size (gpt-image-2 high, $0.211 at 1024×1024; gpt-image-1.5 high, $0.20 at 1536×1024 and "
        "1024×1536), which errs high; the cost recorded is this estimate, not OpenAI's bill.",
    )
    fields: dict[str, Any] = {"options": GPT_IMAGE_GENERAL_OPTIONS, "rules": (), "note": GPT_IMAGE_GENERAL_NOTE}
    return _gpt_image(model_id, label, free=False, pricing=pricing, **(fields | kw))


# Dated snapshots the SDK lists for images.generate and images.edit: the same model pinned, with
# its settings ("including their 2026-09-08 snapshots"; gpt-image-2-2026-04-21 beside gpt-image-2
# in `size`). OpenAI's pricing page names the models, not the snapshots: a snapshot is priced as
# its model, an assumption.
SNAPSHOTS = {
    "gpt-image-2": ("2026-04-21",),
    "gpt-image-2.5-sunburst": ("2026-09-08",),
    "gpt-image-2.5-flare": ("2026-09-08",),
}


def _with_snapshots(models: list[Model]) -> list[Model]:
    """Each model followed by its dated snapshots."""
    listed = []
    for model in models:
        listed.append(model)
        for date in SNAPSHOTS.get(model.id, ()):
            note = f"{model.label} pinned to its {date} snapshot: the same settings, priced as {model.id}."
            listed.append(replace(model, id=f"{model.id}-{date}", label=f"{model.label} ({date})", note=note))
    return listed


def _gpt_image_2_5(model_id: str, label: str) -> Model:
    # "gpt-image-2.5-sunburst and gpt-image-2.5-flare ... also support xhigh and max" (quality),
    # and take `complexity` (image_generate_params). Their token rates are gpt-image-2's (OpenAI's
    # pricing page as quoted on 2026-09-09); no per-image figures for xhigh and max are published.
    return _gpt_image(
        model_id,
        label,
        free=True,
        pricing=_gpt_pricing(
            _tokens("5", "8", "30"),
            GPT_IMAGE_NOTE + " The 2.5 pair's low/medium/high figures are gpt-image-2's; xhigh and max have "
            "no published figure, so budgets assume 2× and 4× high (and auto as high) — Atelier's guess, "
            "replaced by the real cost when the job finishes.",
            low=("0.006", "0.005"),
            medium=("0.053", "0.041"),
            high=("0.211", "0.165"),
            auto=("0.211", "0.165"),
            xhigh=("0.422", "0.33"),
            max=("0.844", "0.66"),
        ),
        qualities=(*GPT_IMAGE_QUALITIES, "xhigh", "max"),
        options=GPT_IMAGE_2_5_OPTIONS,
        size_rule=GPT_IMAGE_2_5_RULE,
    )


def _stable_image(
    model_id: str,
    label: str,
    pricing: Pricing,
    operations: frozenset[Operation],
    options: tuple[Option, ...],
    wire: StabilityWire,
    **kw: Any,
) -> Model:
    return Model(
        model_id,
        label,
        "stability",
        operations,
        MEGAPIXEL_SIZES,
        STANDARD,
        "standard",
        wire=wire,
        options=options,
        pricing=pricing,
        negative_prompt=True,
        seed_max=STABILITY_V2_SEED_MAX,
        max_prompt_chars=10000,
        size_rule=STABILITY_EDIT_RULE,
        sources=(STABILITY_V2,),
        **kw,
    )


def _flux(
    model_id: str,
    label: str,
    usd: str,
    operations: frozenset[Operation],
    options: tuple[Option, ...],
    *,
    sizes: tuple[Size, ...] = FLUX_SIZES,
    max_n: int = 1,
    **wire: Any,
) -> Model:
    return Model(
        model_id,
        label,
        "replicate",
        operations,
        sizes,
        STANDARD,
        "standard",
        wire=ReplicateWire(f"black-forest-labs/{model_id}", outputs_input="num_outputs" if max_n > 1 else "", **wire),
        max_n=max_n,
        options=options,
        pricing=_replicate_pricing(model_id, usd),
        seed_max=SEED_MAX,
        size_rule=FLUX_EDIT_RULE if Operation.GENERATE not in operations else None,
        sources=(f"replicate.com/black-forest-labs/{model_id}/api/schema",),
    )


def _flux_tool(model_id: str, label: str, usd: str, operation: Operation, control_kind: str, image_input: str) -> Model:
    """Flux models that work from a source image only (control, redux): editor operations."""
    return Model(
        model_id,
        label,
        "replicate",
        _ops(operation),
        FLUX_SIZES,
        STANDARD,
        "standard",
        wire=ReplicateWire(
            f"black-forest-labs/{model_id}",
            image_input=image_input,
            aspect_input="aspect_ratio" if operation == Operation.VARIATION else "",
            outputs_input="num_outputs" if operation == Operation.VARIATION else "",
        ),
        max_n=4 if operation == Operation.VARIATION else 1,
        options=(FLUX_FORMAT if operation == Operation.VARIATION else FLUX_JPG_PNG,),
        pricing=_replicate_pricing(model_id, usd),
        seed_max=SEED_MAX,
        note=f"Works from a source image: open one in the editor ({operation.value}).",
        size_rule=FLUX_EDIT_RULE,
        control_kinds=(control_kind,) if control_kind else (),
        sources=(f"replicate.com/black-forest-labs/{model_id}/api/schema",),
    )


def _kontext(model_id: str, label: str, usd: str) -> Model:
    """FLUX.1 Kontext: a new image from a prompt, or the source changed as the prompt says."""
    return Model(
        model_id,
        label,
        "replicate",
        _ops(Operation.GENERATE, Operation.INSTRUCT),
        FLUX_SIZES,
        STANDARD,
        "standard",
        wire=ReplicateWire(
            f"black-forest-labs/{model_id}", image_input="input_image", match_input_aspect="match_input_image"
        ),
        options=(
            FLUX_JPG_PNG,
            # "0 is most strict and 6 is most permissive; 2 is currently the maximum allowed when
            # input images are used" (the schema's safety_tolerance).
            _int(
                "safety_tolerance",
                "Safety tolerance",
                2,
                0,
                6,
                help="0 strictest, 6 most permissive",
                operations=frozenset({Operation.GENERATE}),
            ),
            _int(
                "safety_tolerance",
                "Safety tolerance",
                2,
                0,
                2,
                help="0 strictest; at most 2 with an input image",
                operations=frozenset({Operation.INSTRUCT}),
            ),
            _bool("prompt_upsampling", "Prompt upsampling", False),
        ),
        pricing=_replicate_pricing(model_id, usd),
        seed_max=SEED_MAX,
        size_rule=FLUX_EDIT_RULE,
        note="Instruct: open an image in the editor and say what to change (“make it night”).",
        sources=(f"replicate.com/black-forest-labs/{model_id}/api/schema",),
    )


def _flux_2(model_id: str, label: str, usd: str, options: tuple[Option, ...], max_inputs: int) -> Model:
    """FLUX.2: generation, and instruction edits drawing on several input images (input_images)."""
    return Model(
        model_id,
        label,
        "replicate",
        _ops(Operation.GENERATE, Operation.INSTRUCT),
        FLUX_PRO_SIZES,  # its aspect_ratio enum has no 21:9 or 9:21
        STANDARD,
        "standard",
        wire=ReplicateWire(
            f"black-forest-labs/{model_id}", images_input="input_images", match_input_aspect="match_input_image"
        ),
        options=options,
        pricing=_replicate_pricing(
            model_id,
            usd,
            "Replicate bills FLUX.2 by the megapixels it reads and writes; this is about one megapixel "
            "out with no input images, so edits with references cost more.",
        ),
        seed_max=SEED_MAX,
        size_rule=FLUX_2_RULE,
        max_references=max_inputs - 1,  # the image edited is the first input
        note="Instruct: open an image in the editor and say what to change; add references to draw from.",
        sources=(f"replicate.com/black-forest-labs/{model_id}/api/schema", FLUX_2_SCHEMA),
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
        wire=MidjourneyWire(version),
        grid_actions=True,
        options=MIDJOURNEY_OPTIONS,
        pricing=Pricing(
            PRICES_READ,
            MIDJOURNEY_PLANS,
            per_job=Decimal("0.05"),
            note="Midjourney bills a monthly plan, not each job: MIDJOURNEY_USD_PER_JOB spreads it over jobs "
            "(default: the Basic plan's $10 a month over about 200 grids). A grid is one job, not five "
            "images; an upscale or variation of it is another job.",
        ),
        negative_prompt=True,
        seed_max=SEED_MAX,
        max_prompt_chars=6000,
        note="Through your own midjourney-proxy server; renders a 2x2 grid, then U1-U4 / V1-V4.",
        sources=("github.com/novicezk/midjourney-proxy (REST API)",),
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
            Operation.INSTRUCT,
        ),
        SDXL_SIZES,
        ("draft", "standard", "high"),
        "standard",
        wire=OfflineWire(style),
        max_n=4,
        pricing=Pricing(
            PRICES_READ, "Atelier's built-in renderer: no provider, no charge", _usd(draft="0", standard="0", high="0")
        ),
        negative_prompt=True,
        seed_max=SEED_MAX,
        max_prompt_chars=2000,
        note=f"{label} — not an AI model. A procedural renderer built into Atelier.",
        size_rule=OFFLINE_RULE,
        upscale=Upscale((2, 4), max_input_pixels=4_194_304, max_output_edge=4096),
        # Upscaling is not random: more than one would be copies of the same image.
        limits={Operation.UPSCALE: OperationLimits(max_n=1)},
    )


GENERATE_REMIX = _ops(Operation.GENERATE, Operation.REMIX)
STABLE_IMAGE_CORE_OPERATIONS = _ops(
    Operation.GENERATE,
    Operation.EDIT,
    Operation.OUTPAINT,
    Operation.ERASE,
    Operation.SEARCH_REPLACE,
    Operation.CONTROL,
    Operation.STYLE,
    Operation.UPSCALE,
)
# ESRGAN ×2 (v1 image-to-image/upscale): "This operation outputs an image with a maximum pixel count
# of 4,194,304. This is equivalent to dimensions such as 2048x2048 and 4096x1024" (400
# invalid_pixel_count past it). Doubling makes 4× the pixels, so inputs go up to 1,048,576 pixels
# (every SDXL size: 1344×768 → 2688×1536 is 4,128,768). No edge limit is stated: 4096 a side is the
# widest the reference names, kept as Atelier's bound.
STABILITY_V1_UPSCALE = (
    "platform.stability.ai/docs/api-reference#tag/v1generation/operation/upscaleImage "
    "(v1 image-to-image/upscale: at most 4,194,304 output pixels)"
)
SDXL_UPSCALE = Upscale(
    (2,),
    max_input_pixels=4_194_304 // 4,
    max_output_edge=4096,
    max_output_pixels=4_194_304,
    source=STABILITY_V1_UPSCALE,
)

MODELS: dict[str, Model] = {
    m.id: m
    for m in _with_snapshots(
        [
            _offline("offline", "Offline sketch", "sketch"),
            _offline("offline-watercolor", "Offline watercolour", "watercolor"),
            _offline("offline-mosaic", "Offline mosaic", "mosaic"),
            _gpt_image_unpublished("gpt-image-2.6-flare", "GPT Image 2.6 flare", max_references=0),
            _gpt_image_unpublished("gpt-image-2.6-sunburst", "GPT Image 2.6 sunburst", max_references=0),
            _gpt_image_2_5("gpt-image-2.5-flare", "GPT Image 2.5 flare"),
            _gpt_image_2_5("gpt-image-2.5-sunburst", "GPT Image 2.5 sunburst"),
            _gpt_image(
                "gpt-image-2",
                "GPT Image 2",
                free=True,
                pricing=_gpt_pricing(
                    GPT_IMAGE_2_TOKENS,
                    low=("0.006", "0.005"),
                    medium=("0.053", "0.041"),
                    high=("0.211", "0.165"),
                ),
            ),
            _gpt_image(
                "gpt-image-1.5",
                "GPT Image 1.5",
                free=False,
                pricing=_gpt_pricing(
                    _tokens("5", "8", "32", text_output="10"),
                    low=("0.009", "0.013"),
                    medium=("0.034", "0.05"),
                    high=("0.133", "0.2"),
                ),
                options=(*GPT_IMAGE_OPTIONS, _input_fidelity("low", "high")),
            ),
            _gpt_image(
                "gpt-image-1-mini",
                "GPT Image 1 mini",
                free=False,
                pricing=_gpt_pricing(
                    _tokens("2", "2.5", "8"),
                    low=("0.005", "0.006"),
                    medium=("0.011", "0.015"),
                    high=("0.036", "0.052"),
                ),
                options=(*GPT_IMAGE_OPTIONS, _input_fidelity("low")),
            ),
            _gpt_image_unpublished(
                "chatgpt-image-latest",
                "ChatGPT Image (latest)",
                # "chatgpt-image-latest follows the same input constraints as GPT image models" (image_edit_params).
                note="The image model ChatGPT uses now: it can change without notice. " + GPT_IMAGE_GENERAL_NOTE,
            ),
            _gpt_image(
                "gpt-image-1",
                "GPT Image 1 (OpenAI-compatible servers)",
                free=False,
                pricing=_gpt_pricing(
                    _tokens("5", "10", "40"),
                    low=("0.011", "0.016"),
                    medium=("0.042", "0.063"),
                    high=("0.167", "0.25"),
                ),
                retired=True,
                note=RETIRED_NOTE.format(date="2026-10-23"),
            ),
            Model(
                "dall-e-3",
                "DALL·E 3 (OpenAI-compatible servers)",
                "openai",
                _ops(Operation.GENERATE),
                _sizes(("1:1", 1024, 1024), ("16:9", 1792, 1024), ("9:16", 1024, 1792)),
                ("standard", "hd"),
                "standard",
                wire=OpenAIWire(response_format="b64_json", partial_images=False),
                options=(_choice("style", "Style", "vivid", ("vivid", "natural")),),
                pricing=Pricing(
                    PRICES_READ,
                    OPENAI_PRICING,
                    _usd(
                        standard="0.040",
                        hd="0.080",
                        standard__1792x1024="0.080",
                        standard__1024x1792="0.080",
                        hd__1792x1024="0.120",
                        hd__1024x1792="0.120",
                    ),
                    note="OpenAI's last published price; a compatible server may charge otherwise, or nothing.",
                ),
                note=RETIRED_NOTE.format(date="2026-05-12"),
                retired=True,
                sources=(OPENAI_SDK,),
            ),
            Model(
                "dall-e-2",
                "DALL·E 2 (OpenAI-compatible servers)",
                "openai",
                _ops(Operation.GENERATE, Operation.EDIT, Operation.VARIATION),
                _sizes(("1:1", 1024, 1024), ("1:1", 512, 512), ("1:1", 256, 256)),
                STANDARD,
                "standard",
                wire=OpenAIWire(response_format="b64_json", partial_images=False),
                max_n=10,
                pricing=Pricing(
                    PRICES_READ,
                    OPENAI_PRICING,
                    _usd(standard="0.020", standard__512x512="0.018", standard__256x256="0.016"),
                    note="OpenAI's last published price; a compatible server may charge otherwise, or nothing.",
                ),
                max_prompt_chars=1000,
                note=RETIRED_NOTE.format(date="2026-05-12"),
                retired=True,
                sources=(OPENAI_SDK,),
            ),
            Model(
                "sdxl-1.0",
                "Stable Diffusion XL 1.0",
                "stability",
                _ops(Operation.GENERATE, Operation.REMIX, Operation.EDIT, Operation.UPSCALE),
                SDXL_SIZES,
                STANDARD,
                "standard",
                wire=StabilityWire(engine="stable-diffusion-xl-1024-v1-0"),
                max_n=10,
                options=(
                    _float("cfg_scale", "CFG scale", 7.0, 0, 35, operations=SDXL_DIFFUSION),
                    _int("steps", "Steps", 30, 10, 50, operations=SDXL_DIFFUSION),
                    _choice("sampler", "Sampler", "K_DPMPP_2M", SDXL_SAMPLERS, operations=SDXL_DIFFUSION),
                    _choice(
                        "style_preset",
                        "Style preset",
                        "none",
                        STABILITY_STYLE_PRESETS,
                        operations=SDXL_DIFFUSION,
                        unset="none",
                    ),
                ),
                # ESRGAN answers one image for one input and takes no prompt at all.
                limits={
                    Operation.UPSCALE: OperationLimits(max_n=1, negative_prompt=False, source=STABILITY_V1_UPSCALE)
                },
                pricing=_stability_pricing(
                    STABILITY_NOTE + " SDXL 1.0 (v1) is priced by steps: 0.9 credits is its figure at the default "
                    "30 steps, so other step counts are approximate.",
                    generate="0.9",
                    remix="0.9",
                    edit="0.9",
                    upscale="0.2",
                ),
                negative_prompt=True,
                seed_max=SEED_MAX,
                max_prompt_chars=2000,
                upscale=SDXL_UPSCALE,
                sources=(STABILITY_V1, STABILITY_V1_UPSCALE),
            ),
            _stable_image(
                "stable-image-ultra",
                "Stable Image Ultra",
                _stability_pricing(generate="8", remix="8", upscale="60"),  # creative upscale
                _ops(Operation.GENERATE, Operation.REMIX, Operation.UPSCALE),
                (STABLE_IMAGE_FORMAT,),
                StabilityWire(endpoint="ultra", upscaler="creative"),
                upscale=Upscale((4,), max_input_pixels=1_048_576, max_output_edge=4096),
            ),
            _stable_image(
                "stable-image-core",
                "Stable Image Core",
                _stability_pricing(
                    generate="3", edit="5", outpaint="4", erase="5", replace="5", control="5", style="5", upscale="2"
                ),
                STABLE_IMAGE_CORE_OPERATIONS,
                (
                    STABLE_IMAGE_FORMAT,
                    _choice(
                        "style_preset",
                        "Style preset",
                        "none",
                        STABILITY_STYLE_PRESETS,
                        unset="none",
                        operations=STABLE_IMAGE_CORE_OPERATIONS - {Operation.ERASE, Operation.UPSCALE},
                    ),
                ),
                StabilityWire(endpoint="core", upscaler="fast"),
                limits={
                    op: OperationLimits(negative_prompt=False, source=STABILITY_V2_BODIES)
                    for op in (Operation.OUTPAINT, Operation.ERASE, Operation.UPSCALE)
                },
                upscale=Upscale((4,), max_input_pixels=1_048_576, max_output_edge=4096),
                control_kinds=("structure", "sketch"),
                # /edit/outpaint: left, right, up and down take 0 … 2000 pixels each.
                max_extend=2000,
                extends_original=True,
            ),
            _stable_image(
                "sd3.5-large",
                "Stable Diffusion 3.5 Large",
                _stability_pricing(generate="6.5", remix="6.5", upscale="40"),  # conservative upscale
                _ops(Operation.GENERATE, Operation.REMIX, Operation.UPSCALE),
                (SD3_FORMAT,),
                StabilityWire(endpoint="sd3", sd3_model="sd3.5-large", upscaler="conservative"),
                upscale=Upscale((4,), max_input_pixels=9_437_184, max_output_edge=8192),
            ),
            _stable_image(
                "sd3.5-large-turbo",
                "Stable Diffusion 3.5 Large Turbo",
                _stability_pricing(generate="4", remix="4"),
                GENERATE_REMIX,
                (SD3_FORMAT,),
                StabilityWire(endpoint="sd3", sd3_model="sd3.5-large-turbo"),
            ),
            _stable_image(
                "sd3.5-medium",
                "Stable Diffusion 3.5 Medium",
                _stability_pricing(generate="3.5", remix="3.5"),
                GENERATE_REMIX,
                (SD3_FORMAT,),
                StabilityWire(endpoint="sd3", sd3_model="sd3.5-medium"),
            ),
            _flux(
                "flux-schnell",
                "FLUX.1 [schnell]",
                "0.003",
                _ops(Operation.GENERATE),
                (
                    _int("num_inference_steps", "Steps", 4, 1, 4),
                    FLUX_FORMAT,
                    FLUX_QUALITY,
                    _bool("go_fast", "Go fast", True),
                    _choice("megapixels", "Megapixels", "1", ("1", "0.25")),
                ),
                max_n=4,
            ),
            _flux(
                "flux-dev",
                "FLUX.1 [dev]",
                "0.025",
                GENERATE_REMIX,
                (
                    _int("num_inference_steps", "Steps", 28, 1, 50),
                    _float("guidance", "Guidance", 3.0, 0, 10),
                    FLUX_FORMAT,
                    FLUX_QUALITY,
                ),
                max_n=4,
                image_input="image",
                strength_input="prompt_strength",
            ),
            _flux(
                "flux-pro", "FLUX.1 [pro]", "0.055", _ops(Operation.GENERATE), FLUX_PRO_OPTIONS, sizes=FLUX_PRO_SIZES
            ),
            _flux(
                "flux-1.1-pro",
                "FLUX1.1 [pro]",
                "0.04",
                _ops(Operation.GENERATE),
                (
                    FLUX_FORMAT,
                    FLUX_QUALITY,
                    _int("safety_tolerance", "Safety tolerance", 2, 1, 5, help="1 strictest"),
                    _bool("prompt_upsampling", "Prompt upsampling", False),
                ),
                sizes=FLUX_PRO_SIZES,
            ),
            _flux(
                "flux-1.1-pro-ultra",
                "FLUX1.1 [pro] ultra",
                "0.06",
                GENERATE_REMIX,
                (FLUX_JPG_PNG, SAFETY_TOLERANCE, _bool("raw", "Raw", False)),
                image_input="image_prompt",
                # image_prompt_strength is how much the image prompt counts: the opposite of Atelier's
                # strength (how far from the source).
                strength_input="image_prompt_strength",
                invert_strength=True,
            ),
            Model(
                "flux-fill-pro",
                "FLUX.1 Fill [pro]",
                "replicate",
                _ops(Operation.EDIT, Operation.OUTPAINT),
                FLUX_SIZES,
                STANDARD,
                "standard",
                wire=ReplicateWire("black-forest-labs/flux-fill-pro", aspect_input=""),
                options=(
                    _int("steps", "Steps", 50, 15, 50),
                    _float("guidance", "Guidance", 60.0, 1.5, 100),
                    SAFETY_TOLERANCE,
                    FLUX_JPG_PNG,
                ),
                pricing=_replicate_pricing("flux-fill-pro", "0.05"),
                seed_max=SEED_MAX,
                note="Inpainting and outpainting only: open an image in the editor to use it.",
                size_rule=FLUX_EDIT_RULE,
                sources=("replicate.com/black-forest-labs/flux-fill-pro/api/schema",),
            ),
            _flux_tool("flux-canny-pro", "FLUX.1 Canny [pro]", "0.05", Operation.CONTROL, "edges", "control_image"),
            _flux_tool("flux-depth-pro", "FLUX.1 Depth [pro]", "0.05", Operation.CONTROL, "depth", "control_image"),
            _flux_tool("flux-redux-dev", "FLUX.1 Redux [dev]", "0.025", Operation.VARIATION, "", "redux_image"),
            _kontext("flux-kontext-pro", "FLUX.1 Kontext [pro]", "0.04"),
            _kontext("flux-kontext-max", "FLUX.1 Kontext [max]", "0.08"),
            _flux_2(
                "flux-2-pro",
                "FLUX.2 [pro]",
                "0.03",
                (FLUX_FORMAT, FLUX_QUALITY, _int("safety_tolerance", "Safety tolerance", 2, 1, 5, help="1 strictest")),
                max_inputs=8,
            ),
            _flux_2(
                "flux-2-dev",
                "FLUX.2 [dev]",
                "0.012",
                (FLUX_FORMAT, FLUX_QUALITY, _bool("go_fast", "Go fast", True)),
                max_inputs=4,
            ),
            _midjourney("midjourney-v7", "Midjourney v7", ("1", "2", "4"), "7"),
            _midjourney("midjourney-v6.1", "Midjourney v6.1", ("0.25", "0.5", "1", "2"), "6.1"),
        ]
    )
}


def get_model(model_id: str) -> Model | None:
    return MODELS.get(model_id)


def models_for(operation: Operation) -> list[Model]:
    return [m for m in MODELS.values() if operation in m.operations]


def default_model(operation: Operation | str, preferred: str = "") -> str:
    """The preferred model if it can do the operation here, else the first one that can."""
    ids = [m.id for m in models_for(Operation(operation)) if availability(m).enabled]
    return preferred if preferred in ids else (ids[0] if ids else "")


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
