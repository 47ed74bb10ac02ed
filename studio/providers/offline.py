"""Offline sketch: a deterministic, prompt-aware procedural renderer. Not an AI model.

Words in the prompt pick a palette and the elements of a scene (sun, moon, mountains,
water, city, trees, flowers, a subject); the seed places them. The same prompt, seed,
size and quality always give the same pixels. Words in the negative prompt remove
elements. It supports every operation of the studio so the whole app works offline.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from studio.catalog import Operation
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

Color = tuple[int, int, int]

COLOR_WORDS: dict[str, Color] = {
    "red": (200, 40, 40), "crimson": (160, 20, 50), "orange": (240, 140, 30),
    "yellow": (245, 215, 60), "gold": (212, 175, 55), "golden": (222, 180, 60),
    "green": (50, 160, 70), "emerald": (30, 140, 90), "teal": (20, 130, 130),
    "cyan": (40, 200, 220), "blue": (40, 90, 200), "navy": (20, 30, 90),
    "purple": (120, 50, 170), "violet": (140, 80, 200), "magenta": (210, 40, 160),
    "pink": (240, 130, 180), "brown": (120, 75, 40), "black": (15, 15, 20),
    "white": (240, 240, 235), "grey": (128, 128, 130), "gray": (128, 128, 130),
    "silver": (190, 195, 200),
}  # fmt: skip
THEME_PALETTES: dict[str, tuple[Color, ...]] = {
    "sunset": ((250, 120, 60), (230, 70, 110), (90, 40, 120)),
    "sunrise": ((255, 190, 120), (250, 140, 120), (120, 150, 210)),
    "ocean": ((20, 80, 150), (40, 150, 200), (210, 235, 245)),
    "sea": ((20, 90, 140), (60, 160, 190), (220, 235, 240)),
    "forest": ((30, 80, 40), (70, 130, 60), (180, 210, 150)),
    "night": ((10, 15, 45), (40, 30, 90), (200, 200, 240)),
    "space": ((5, 5, 20), (60, 20, 90), (230, 220, 255)),
    "desert": ((230, 190, 130), (200, 130, 70), (250, 230, 190)),
    "snow": ((235, 240, 250), (170, 195, 225), (90, 110, 150)),
    "winter": ((225, 235, 250), (150, 180, 215), (70, 90, 130)),
    "fire": ((255, 200, 60), (230, 80, 20), (90, 10, 10)),
    "neon": ((255, 40, 200), (30, 230, 255), (20, 10, 40)),
    "cyberpunk": ((255, 40, 160), (40, 220, 255), (15, 10, 35)),
    "autumn": ((210, 110, 30), (160, 60, 30), (240, 200, 120)),
    "spring": ((250, 180, 200), (140, 200, 110), (250, 245, 220)),
    "pastel": ((250, 200, 210), (200, 220, 250), (220, 250, 220)),
}
ELEMENT_WORDS: dict[str, frozenset[str]] = {
    "sun": frozenset({"sun", "sunny", "sunset", "sunrise", "dawn", "dusk", "summer"}),
    "moon": frozenset({"moon", "night", "lunar", "moonlight"}),
    "stars": frozenset({"star", "stars", "night", "space", "galaxy", "cosmic", "starry"}),
    "mountains": frozenset({"mountain", "mountains", "hill", "hills", "peak", "peaks", "valley", "alps"}),
    "water": frozenset({"sea", "ocean", "lake", "river", "water", "beach", "coast", "waves", "harbor"}),
    "city": frozenset({"city", "skyline", "building", "buildings", "tower", "towers", "street", "cyberpunk"}),
    "trees": frozenset({"tree", "trees", "forest", "woods", "pine", "jungle"}),
    "flowers": frozenset({"flower", "flowers", "garden", "meadow", "bloom", "blossom", "spring"}),
    "subject": frozenset({"cat", "dog", "fox", "bird", "owl", "person", "portrait", "robot", "character",
                          "astronaut", "dragon", "horse", "girl", "boy", "man", "woman", "creature"}),
}  # fmt: skip
QUALITY_DETAIL = {"draft": 0.5, "standard": 1.0, "high": 1.6}
WORD_RE = re.compile(r"[a-z]+")


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def _digest(*parts: object) -> int:
    joined = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(joined).digest()[:8], "big")


def _word_color(word: str) -> Color:
    h = _digest("hue", word)
    r, g, b = colorsys.hls_to_rgb((h % 360) / 360, 0.35 + (h >> 9) % 30 / 100, 0.55 + (h >> 17) % 40 / 100)
    return int(r * 255), int(g * 255), int(b * 255)


def palette(prompt: str) -> list[Color]:
    """Colours named or implied by the prompt, padded with colours hashed from its words."""
    words = _words(prompt)
    colors: list[Color] = []
    for word in words:
        colors.extend(THEME_PALETTES.get(word, ()))
        if word in COLOR_WORDS:
            colors.append(COLOR_WORDS[word])
    for word in words:
        if len(colors) >= 5:
            break
        if len(word) > 2 and word not in COLOR_WORDS and word not in THEME_PALETTES:
            colors.append(_word_color(word))
    while len(colors) < 5:
        colors.append(_word_color(f"{prompt}#{len(colors)}"))
    return colors[:6]


def elements(prompt: str, negative_prompt: str = "") -> set[str]:
    words = set(_words(prompt))
    removed = set(_words(negative_prompt))
    found = {name for name, triggers in ELEMENT_WORDS.items() if words & triggers and not removed & triggers}
    return {name for name in found if name not in removed}


def _mix(a: Color, b: Color, t: float) -> Color:
    return tuple(int(a[i] + (b[i] - a[i]) * t) for i in range(3))  # type: ignore[return-value]


def _smooth_noise(rng: np.random.Generator, length: int, knots: int) -> np.ndarray:
    """A smooth random curve in [0, 1] sampled at `length` points."""
    values = rng.random(knots + 1)
    return np.interp(np.linspace(0, knots, length), np.arange(knots + 1), values)


def render(prompt: str, negative_prompt: str, width: int, height: int, seed: int, quality: str) -> Image.Image:
    rng = np.random.default_rng(_digest(prompt, negative_prompt, seed, quality))
    detail = QUALITY_DETAIL.get(quality, 1.0)
    colors = palette(prompt)
    scene = elements(prompt, negative_prompt)
    sky_top, sky_bottom, accent, ground, extra = colors[0], colors[1], colors[2], colors[3], colors[4]
    if "night" in scene or "stars" in scene:
        sky_top = _mix(sky_top, (5, 8, 30), 0.7)

    # Sky: a vertical gradient, computed once per row and broadcast.
    t = np.linspace(0.0, 1.0, height)[:, None]
    sky = (1 - t) * np.array(sky_top) + t * np.array(sky_bottom)
    pixels = np.broadcast_to(sky[:, None, :], (height, width, 3)).astype(np.float32)
    img = Image.fromarray(pixels.reshape(height, width, 3).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    horizon = int(height * (0.55 + 0.15 * rng.random()))
    scale = min(width, height)

    if "stars" in scene:
        count = int(150 * detail * width * height / 1024**2)
        xs, ys = rng.integers(0, width, count), rng.integers(0, horizon, count)
        for x, y in zip(xs, ys, strict=True):
            r = 1 + int(rng.random() * 2)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 240))
    if "sun" in scene or "moon" in scene:
        r = int(scale * (0.07 + 0.06 * rng.random()))
        cx, cy = int(width * (0.2 + 0.6 * rng.random())), int(horizon * (0.3 + 0.5 * rng.random()))
        disc = (250, 235, 200) if "moon" in scene and "sun" not in scene else _mix(accent, (255, 240, 180), 0.6)
        for i in range(4, 0, -1):  # glow
            glow = _mix(sky_bottom, disc, 0.25 * (5 - i) / 4)
            g = r + i * r // 3
            draw.ellipse((cx - g, cy - g, cx + g, cy + g), fill=glow)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=disc)

    arr = np.asarray(img).astype(np.float32)
    ys = np.arange(height)[:, None]
    if "mountains" in scene:
        layers = 2 + int(2 * detail)
        for i in range(layers):
            base = horizon - scale * (0.28 - 0.06 * i)
            ridge = base + scale * 0.2 * _smooth_noise(rng, width, 4 + 3 * i)
            ridge += scale * 0.03 * _smooth_noise(rng, width, int(30 * detail) + 10)
            depth = (i + 1) / layers
            shade = np.array(_mix(_mix(accent, sky_bottom, 0.6), ground, depth), dtype=np.float32)
            arr[ys >= ridge[None, :]] = shade
    ground_color = np.array(_mix(ground, (20, 20, 20), 0.3), dtype=np.float32)
    below = ys >= horizon
    if "water" in scene:
        water = np.array(_mix(sky_bottom, (20, 60, 120), 0.5), dtype=np.float32)
        band = np.broadcast_to(below, (height, width))
        depth = np.clip((ys - horizon) / max(1, height - horizon), 0, 1)
        ripple = 0.08 * np.sin(ys * (0.35 / detail) + _smooth_noise(rng, width, 8)[None, :] * 6)
        shaded = water[None, None, :] * (1 - 0.4 * depth[..., None]) * (1 + ripple[..., None])
        arr = np.where(band[..., None], np.broadcast_to(shaded, arr.shape), arr)
    else:
        arr[np.broadcast_to(below, (height, width))] = ground_color
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)

    if "city" in scene:
        x = 0
        while x < width:
            w = int(scale * (0.04 + 0.06 * rng.random()))
            h = int(scale * (0.1 + 0.35 * rng.random()))
            tone = _mix(extra, (15, 15, 25), 0.5 + 0.3 * rng.random())
            draw.rectangle((x, horizon - h, x + w, horizon), fill=tone)
            for wy in range(horizon - h + 6, horizon - 6, 12):
                for wx in range(x + 4, x + w - 4, 10):
                    if rng.random() < 0.35 * detail:
                        draw.rectangle((wx, wy, wx + 4, wy + 5), fill=(255, 220, 130))
            x += w + int(scale * 0.01)
    if "trees" in scene:
        for _ in range(int(14 * detail)):
            tx = int(width * rng.random())
            th = int(scale * (0.08 + 0.14 * rng.random()))
            ty = horizon + int((height - horizon) * 0.3 * rng.random())
            tone = _mix(ground, (20, 60, 30), 0.5 + 0.4 * rng.random())
            draw.polygon([(tx, ty - th), (tx - th // 3, ty), (tx + th // 3, ty)], fill=tone)
    if "flowers" in scene:
        for _ in range(int(60 * detail)):
            fx, fy = int(width * rng.random()), horizon + int((height - horizon) * rng.random())
            r = max(2, int(scale * 0.008 * (1 + rng.random())))
            draw.ellipse((fx - r, fy - r, fx + r, fy + r), fill=colors[int(rng.integers(0, len(colors)))])
    if "subject" in scene:
        cx, base_y = width // 2 + int(scale * 0.2 * (rng.random() - 0.5)), int(height * 0.85)
        body = int(scale * 0.16)
        tone = _mix(extra, (30, 30, 30), 0.35)
        draw.ellipse((cx - body, base_y - 2 * body, cx + body, base_y), fill=tone)
        head = int(body * 0.6)
        hy = base_y - 2 * body - head // 2
        draw.ellipse((cx - head, hy - head, cx + head, hy + head), fill=tone)
        eye = max(2, head // 6)
        for ex in (cx - head // 3, cx + head // 3):
            draw.ellipse((ex - eye, hy - eye, ex + eye, hy + eye), fill=_mix(accent, (255, 255, 255), 0.5))
    if not scene:
        # Nothing recognised: an abstract composition of shapes from the prompt's own colours.
        for _ in range(int(18 * detail) + 4):
            color = colors[int(rng.integers(0, len(colors)))]
            x, y = int(width * rng.random()), int(height * rng.random())
            r = int(scale * (0.03 + 0.18 * rng.random()))
            if rng.random() < 0.5:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
            else:
                points = [
                    (x + int(r * np.cos(a)), y + int(r * np.sin(a)))
                    for a in np.sort(rng.random(int(rng.integers(3, 7))) * 2 * np.pi)
                ]
                draw.polygon(points, fill=color)

    if detail > 1.0:
        grain = rng.normal(0, 4, (height, width, 1)).astype(np.float32)
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255).astype(np.uint8), "RGB")
    return img


def stylize(img: Image.Image, style: str) -> Image.Image:
    """The same scene as a watercolour (soft washes, dark edges, paper) or a tile mosaic."""
    if style == "watercolor":
        washed = img.filter(ImageFilter.GaussianBlur(3)).quantize(12, method=Image.Quantize.MEDIANCUT).convert("RGB")
        edges = washed.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 255 - min(255, v * 3))
        shade = 0.55 + 0.45 * np.asarray(edges, dtype=np.float32)[..., None] / 255
        paper = np.asarray(washed, dtype=np.float32) * shade
        return Image.fromarray(np.clip(paper * 0.9 + 25, 0, 255).astype(np.uint8), "RGB")
    if style == "mosaic":
        tile = max(8, min(img.size) // 40)
        small = img.resize((max(1, img.width // tile), max(1, img.height // tile)), Image.Resampling.BOX)
        tiles = np.asarray(small.resize(img.size, Image.Resampling.NEAREST)).copy()
        tiles[::tile, :] = tiles[::tile, :] // 2  # grout lines
        tiles[:, ::tile] = tiles[:, ::tile] // 2
        return Image.fromarray(tiles, "RGB")
    return img


def inpaint(
    source: Image.Image, mask: Image.Image, prompt: str, negative_prompt: str, seed: int, quality: str
) -> Image.Image:
    """Repaint where the mask is white, blend where it is grey; under black nothing changes."""
    fresh = render(prompt, negative_prompt, source.width, source.height, seed, quality)
    return Image.composite(fresh, source.convert("RGB"), mask.convert("L"))


def vary(source: Image.Image, seed: int) -> Image.Image:
    """A variation: the source warped by a smooth random field, with its hues shifted a little."""
    rng = np.random.default_rng(_digest("variation", seed))
    src = np.asarray(source.convert("RGB"))
    h, w = src.shape[:2]
    amount = 0.03 * min(w, h)
    dx = np.outer(_smooth_noise(rng, h, 3), _smooth_noise(rng, w, 3)) - 0.25
    dy = np.outer(_smooth_noise(rng, h, 3), _smooth_noise(rng, w, 3)) - 0.25
    yy = np.clip((np.arange(h)[:, None] + dy * 4 * amount).astype(int), 0, h - 1)
    xx = np.clip((np.arange(w)[None, :] + dx * 4 * amount).astype(int), 0, w - 1)
    warped = src[yy, xx].astype(np.float32)
    tint = 1 + (rng.random(3) - 0.5) * 0.2
    return Image.fromarray(np.clip(warped * tint, 0, 255).astype(np.uint8), "RGB")


def remix(
    source: Image.Image, prompt: str, negative_prompt: str, seed: int, quality: str, strength: float
) -> Image.Image:
    """Image-to-image: the further `strength` is from 0, the more of a fresh render shows."""
    fresh = render(prompt, negative_prompt, source.width, source.height, seed, quality)
    return Image.blend(source.convert("RGB"), fresh, max(0.0, min(1.0, strength)))


def upscale(source: Image.Image, factor: int = 2) -> Image.Image:
    big = source.convert("RGB").resize((source.width * factor, source.height * factor), Image.Resampling.LANCZOS)
    return big.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    # Fast compression: the renderer's budget is 300 ms for a megapixel.
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


# An instruction ("make it night") is a remix halfway between the source and the prompt here.
INSTRUCT_STRENGTH = 0.5


def generate(request: ImageRequest, progress: Progress = keep_going) -> ProviderResult:
    """Provider entry point: one image per requested count, seeds counting up from the job's seed."""
    op, size = request.operation, request.size
    source = source_image(request) if request.inputs.source else None
    mask = mask_image(request) if request.inputs.mask else None
    if op != Operation.GENERATE and source is None:
        raise ProviderError(ErrorKind.INVALID_REQUEST, "This operation needs a source image.")
    images = []
    for i in range(request.n):
        seed = request.seed + i
        if op == Operation.GENERATE:
            img = render(request.prompt, request.negative_prompt, size.width, size.height, seed, request.quality)
            img = stylize(img, request.model.wire.style)
        elif op in (Operation.EDIT, Operation.OUTPAINT) and mask is not None:
            img = inpaint(source, mask, request.prompt, request.negative_prompt, seed, request.quality)
        elif op == Operation.VARIATION:
            img = vary(source, seed)
        elif op in (Operation.REMIX, Operation.INSTRUCT):
            strength = request.edit.strength if op == Operation.REMIX else INSTRUCT_STRENGTH
            img = remix(source, request.prompt, request.negative_prompt, seed, request.quality, strength)
        elif op == Operation.UPSCALE:
            img = upscale(source, request.edit.factor or 2)
        else:
            raise ProviderError(ErrorKind.INVALID_REQUEST, f"The offline renderer cannot {op}.")
        images.append(GeneratedImage(data=_png(img), seed=seed))
    return ProviderResult(images=images, usage={"renderer": "offline", "images": request.n})


def check() -> Check:
    return Check(True, "Built in; needs no network.")
