"""Image bytes in and out: validate by decoding, thumbnails, settings embedded in what is stored."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from PIL import Image, ImageChops, UnidentifiedImageError

from studio.metadata import writer
from studio.metadata.writer import PNG_SIGNATURE

THUMBNAIL_EDGE = 512
# What a provider may send back, whatever the upload limits: an upscale can be far larger than any
# input (4 × 9.4 megapixels, at most 8192 a side).
OUTPUT_MAX_BYTES = 64 * 1024 * 1024
OUTPUT_MAX_PIXELS = 40_000_000
FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif"}


class ImageRejected(ValueError):
    """Bytes that are not an acceptable image; the message is for the user."""


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes  # what is stored: the original bytes with the settings spliced in (studio.metadata.writer)
    extension: str
    thumbnail: bytes  # WebP
    width: int
    height: int
    sha256: str


def decode(data: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None) -> Image.Image:
    """Decode fully, so a truncated or fake file fails here; reject oversize and bombs."""
    with _opened(data, max_bytes, max_pixels) as img:
        img.load()
        return img


def dimensions(data: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None) -> tuple[int, int]:
    """W×H from the file's header alone, with the same checks as decode but no pixel allocated:
    what an edit will cost is known, and refused, before anything is decoded."""
    with _opened(data, max_bytes, max_pixels) as img:
        return img.size


@contextmanager
def _opened(data: bytes, max_bytes: int | None, max_pixels: int | None) -> Iterator[Image.Image]:
    max_bytes = max_bytes or settings.UPLOAD_MAX_BYTES
    max_pixels = max_pixels or settings.IMAGE_MAX_PIXELS
    if len(data) > max_bytes:
        raise ImageRejected(
            f"The file is {len(data):,} bytes; the limit is {max_bytes:,} bytes ({max_bytes / 2**20:g} MB)."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > max_pixels:
                raise ImageRejected(
                    f"The image is {img.width}×{img.height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels."
                )
            if img.format not in FORMATS:
                raise ImageRejected(f"{img.format} images are not supported; use PNG, JPEG, WebP or GIF.")
            yield img
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("The image expands to too many pixels (a decompression bomb).") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("The file is not an image Atelier can read (PNG, JPEG, WebP or GIF).") from exc


def thumbnail(img: Image.Image) -> bytes:
    thumb = img.copy()
    thumb.draft("RGB", (THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB")
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80, method=2)
    return out.getvalue()


def without_png_text(data: bytes) -> bytes:
    """The file without its PNG text chunks (the settings, the model's name): pixels untouched.
    Anything that is not a PNG comes back as it is."""
    if not data.startswith(PNG_SIGNATURE):
        return data
    kept, position = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        end = position + 12 + struct.unpack(">I", data[position : position + 4])[0]
        if data[position + 4 : position + 8] not in (b"tEXt", b"iTXt", b"zTXt"):
            kept.append(data[position:end])
        position = end
    return b"".join(kept)


def header_info(data: bytes) -> tuple[str, dict[str, Any]]:
    """The format and what Pillow reads from the header (text chunks before the pixel data, EXIF),
    with the same checks as decode: the pixels are never decoded."""
    with _opened(data, None, None) as img:
        return img.format, dict(img.info)


def process(data: bytes, metadata: dict[str, Any]) -> ProcessedImage:
    """Validate a provider's output and prepare what is stored: file bytes, thumbnail, facts."""
    img = decode(
        data,
        max_bytes=max(settings.UPLOAD_MAX_BYTES, OUTPUT_MAX_BYTES),
        max_pixels=max(settings.IMAGE_MAX_PIXELS, OUTPUT_MAX_PIXELS),
    )
    extension = FORMATS[img.format]
    stored = writer.embed(data, extension, metadata)
    return ProcessedImage(
        data=stored,
        extension=extension,
        thumbnail=thumbnail(img),
        width=img.width,
        height=img.height,
        sha256=hashlib.sha256(stored).hexdigest(),
    )


# --- Masks -------------------------------------------------------------------------------------
# Inside Atelier a mask is an 8-bit greyscale image the size of its source: 255 where the image
# may change, 0 where it must stay, values between for a feathered edge. Each provider's
# convention is derived here and nowhere else.

OUTPAINT_OVERLAP = 32  # pixels of the original that an outpaint may repaint, so seams blend
DALL_E_2_MAX_BYTES = 4 * 1024 * 1024


class MaskRejected(ValueError):
    """A mask that cannot be used; the message is for the user."""


def read_mask(data: bytes, size: tuple[int, int]) -> Image.Image:
    """Decode an uploaded mask (white or opaque = change) into Atelier's form, checking it. Its
    size is read from the header first: a mask of the wrong size is refused without decoding."""
    width, height = dimensions(data)
    if (width, height) != size:
        raise MaskRejected(f"The mask is {width}×{height} but the image is {size[0]}×{size[1]}; they must match.")
    img = decode(data)
    if "A" in img.getbands() and img.getchannel("A").getextrema()[0] < 255:
        # A painted-on-transparent mask: opaque pixels are the painted ones.
        return img.getchannel("A")
    return img if img.mode == "L" else img.convert("L")


def check_mask_coverage(mask: Image.Image) -> None:
    low, high = mask.getextrema()
    if high == 0:
        raise MaskRejected("The mask is empty: paint over the part of the image you want to change.")
    if low == 255:
        raise MaskRejected("The mask covers the whole image: leave some of it unpainted, or generate a new image.")


def extend_canvas(
    image: Image.Image, *, left: int, top: int, right: int, bottom: int, overlap: int = OUTPAINT_OVERLAP
) -> tuple[Image.Image, Image.Image]:
    """The image on a larger canvas and the outpaint mask: the new area plus `overlap` into the old."""
    width, height = image.width + left + right, image.height + top + bottom
    canvas = Image.new("RGB", (width, height), (127, 127, 127))
    canvas.paste(image if image.mode == "RGB" else image.convert("RGB"), (left, top))
    mask = Image.new("L", (width, height), 255)
    keep = (
        left + (overlap if left else 0),
        top + (overlap if top else 0),
        left + image.width - (overlap if right else 0),
        top + image.height - (overlap if bottom else 0),
    )
    if keep[0] < keep[2] and keep[1] < keep[3]:
        mask.paste(0, keep)
    return canvas, mask


def extension_for_aspect(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixels to add (left, top, right, bottom), split evenly, to reach an aspect ratio W:H."""
    w_part, h_part = aspect
    # Rounds half up, exactly as the editor's extensionForAspect does, so both agree on the size.
    if width * h_part >= height * w_part:  # too wide already: grow the height
        extra = math.floor(width * h_part / w_part + 0.5) - height
        return 0, extra // 2, 0, extra - extra // 2
    extra = math.floor(height * w_part / h_part + 0.5) - width
    return extra // 2, 0, extra - extra // 2, 0


SHRINK_BAND = 256  # output rows resampled at a time
LANCZOS_SUPPORT = 3  # source rows the filter reaches on each side, per unit of scale (at least 1)


def shrink(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image resampled (Lanczos) to another size, usually smaller, a band of rows at a time: one
    pass over a 36-megapixel source holds a full-height intermediate as large again as the result.
    Pillow premultiplies the alpha of the whole image it resizes, so a band of an image with alpha
    is first cut out with the rows the filter reaches (else: an RGBA copy of the source per band)."""
    width, height = size
    out = Image.new(img.mode, size)
    scale = img.height / height
    reach = math.ceil(LANCZOS_SUPPORT * max(scale, 1.0)) + 1
    for top in range(0, height, SHRINK_BAND):
        rows = min(SHRINK_BAND, height - top)
        first, last = top * scale, (top + rows) * scale
        band, offset = img, 0
        if img.mode in ("LA", "RGBA"):
            offset = max(0, math.floor(first) - reach)
            band = img.crop((0, offset, img.width, min(img.height, math.ceil(last) + reach)))
        box = (0, first - offset, img.width, last - offset)
        out.paste(band.resize((width, rows), Image.Resampling.LANCZOS, box=box), (0, top))
    return out


def png_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def mask_for_openai(mask: Image.Image) -> bytes:
    """OpenAI images.edit: an RGBA PNG the size of the image; alpha 0 marks where to change."""
    rgba = Image.new("RGBA", mask.size, (0, 0, 0, 255))
    rgba.putalpha(ImageChops.invert(mask))
    return png_bytes(rgba)


def mask_for_stability_v1(mask: Image.Image, mask_source: str = "MASK_IMAGE_WHITE") -> tuple[bytes, str]:
    """Stability v1 masking: the mask image and its `mask_source` (white or black pixels change)."""
    if mask_source == "MASK_IMAGE_WHITE":
        return png_bytes(mask), mask_source
    if mask_source == "MASK_IMAGE_BLACK":
        return png_bytes(ImageChops.invert(mask)), mask_source
    raise ValueError(f"unsupported mask_source {mask_source!r}")


def mask_white_changes(mask: Image.Image) -> bytes:
    """Stability v2beta inpaint and Flux fill: a greyscale PNG, white where the image changes."""
    return png_bytes(mask)


def dall_e_2_image(image: Image.Image) -> bytes:
    """DALL-E 2 edits and variations take a square RGBA PNG under 4 MB, at most 1024 a side."""
    if image.width != image.height:
        raise MaskRejected(f"DALL·E 2 needs a square image; this one is {image.width}×{image.height}.")
    side = min(image.width, 1024)
    image_png = png_bytes(image.convert("RGBA").resize((side, side), Image.Resampling.LANCZOS))
    if len(image_png) > DALL_E_2_MAX_BYTES:
        raise MaskRejected("The image is over DALL·E 2's 4 MB limit even at 1024×1024.")
    return image_png


def dall_e_2_edit(image: Image.Image, mask: Image.Image) -> tuple[bytes, bytes]:
    """DALL-E 2 edits: the square RGBA image and an RGBA mask of its size (transparent = change)."""
    image_png = dall_e_2_image(image)
    side = min(image.width, 1024)
    return image_png, mask_for_openai(mask.resize((side, side), Image.Resampling.BILINEAR))
