"""Image bytes in and out: validate by decoding, thumbnails, and settings embedded in PNGs."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from PIL import Image, UnidentifiedImageError

THUMBNAIL_EDGE = 512
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METADATA_KEY = "atelier"  # our JSON chunk
A1111_KEY = "parameters"  # the chunk AUTOMATIC1111 and most SD tools read
FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif"}


class ImageRejected(ValueError):
    """Bytes that are not an acceptable image; the message is for the user."""


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes  # what is stored: the original bytes, with our metadata if PNG
    extension: str
    thumbnail: bytes  # WebP
    width: int
    height: int
    sha256: str


def decode(data: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None) -> Image.Image:
    """Decode fully, so a truncated or fake file fails here; reject oversize and bombs."""
    max_bytes = max_bytes or settings.UPLOAD_MAX_BYTES
    max_pixels = max_pixels or settings.IMAGE_MAX_PIXELS
    if len(data) > max_bytes:
        raise ImageRejected(f"The file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB.")
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
            img.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("The image expands to too many pixels (a decompression bomb).") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("The file is not an image Atelier can read (PNG, JPEG, WebP or GIF).") from exc
    return img


def thumbnail(img: Image.Image) -> bytes:
    thumb = img.copy()
    thumb.draft("RGB", (THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB")
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80, method=2)
    return out.getvalue()


def a1111_parameters(metadata: dict[str, Any]) -> str:
    """The `parameters` text AUTOMATIC1111 writes: prompt, negative, then `Key: value` pairs."""
    lines = [metadata.get("prompt", "")]
    if metadata.get("negative_prompt"):
        lines.append(f"Negative prompt: {metadata['negative_prompt']}")
    pairs = {
        "Seed": metadata.get("seed"),
        "Size": f"{metadata.get('width')}x{metadata.get('height')}",
        "Model": metadata.get("model"),
        "Quality": metadata.get("quality"),
    }
    lines.append(", ".join(f"{k}: {v}" for k, v in pairs.items() if v is not None))
    return "\n".join(lines)


def _itxt_chunk(keyword: str, text: str) -> bytes:
    body = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))


def with_png_metadata(png: bytes, metadata: dict[str, Any]) -> bytes:
    """Insert text chunks after IHDR without re-encoding the pixels (fast and lossless)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    ihdr_end = len(PNG_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunks = _itxt_chunk(METADATA_KEY, json.dumps(metadata, sort_keys=True)) + _itxt_chunk(
        A1111_KEY, a1111_parameters(metadata)
    )
    return png[:ihdr_end] + chunks + png[ihdr_end:]


def read_png_metadata(data: bytes) -> dict[str, Any] | None:
    """Settings embedded by Atelier, or None if the image carries none."""
    img = decode(data)
    raw = getattr(img, "text", {}).get(METADATA_KEY) if img.format == "PNG" else None
    if not raw:
        return None
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return metadata if isinstance(metadata, dict) else None


def process(data: bytes, metadata: dict[str, Any]) -> ProcessedImage:
    """Validate a provider's output and prepare what is stored: file bytes, thumbnail, facts."""
    img = decode(data, max_bytes=max(settings.UPLOAD_MAX_BYTES, 64 * 1024 * 1024))
    extension = FORMATS[img.format]
    stored = with_png_metadata(data, metadata) if extension == "png" else data
    return ProcessedImage(
        data=stored,
        extension=extension,
        thumbnail=thumbnail(img),
        width=img.width,
        height=img.height,
        sha256=hashlib.sha256(stored).hexdigest(),
    )
