"""Settings written into the files Atelier stores, where other tools look for them: PNG text chunks
(`atelier` JSON and A1111's `parameters`), and for JPEG and WebP the same `parameters` text in EXIF
UserComment, written as A1111 writes it (piexif, "UNICODE\\0" then UTF-16-BE). The pixels are never
re-encoded: chunks and segments are spliced into the provider's bytes."""

from __future__ import annotations

import io
import json
import logging
import struct
import zlib
from typing import Any

import piexif
import piexif.helper

from studio.metadata import a1111

logger = logging.getLogger(__name__)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ATELIER_KEY = "atelier"  # our JSON chunk
A1111_KEY = "parameters"  # the chunk AUTOMATIC1111 and most SD tools read
# A JPEG segment holds at most 65,533 bytes; the EXIF around the comment takes well under 100.
JPEG_COMMENT_BYTES = 65_533 - 100


def embed(data: bytes, extension: str, settings: dict[str, Any]) -> bytes:
    """The file with its settings in it; formats with no place for them (GIF) are returned as they are."""
    if extension == "png":
        return with_png_chunks(data, settings)
    if extension in ("jpeg", "webp"):
        text = a1111.infotext(settings)
        if extension == "jpeg":
            text = _fit_jpeg_segment(text, settings)
        try:
            return with_user_comment(data, text)
        except (piexif.InvalidImageDataError, ValueError, struct.error) as exc:
            # A file Pillow decodes but piexif cannot split (fill bytes between JPEG segments):
            # a paid result is kept as it came rather than lost for want of its settings.
            logger.warning("Stored a %s without its settings: piexif could not insert them (%s)", extension, exc)
    return data


def _itxt_chunk(keyword: str, text: str) -> bytes:
    body = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))


def with_png_chunks(png: bytes, settings: dict[str, Any]) -> bytes:
    """Insert text chunks after IHDR without re-encoding the pixels (fast and lossless)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    ihdr_end = len(PNG_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunks = _itxt_chunk(ATELIER_KEY, json.dumps(settings, sort_keys=True)) + _itxt_chunk(
        A1111_KEY, a1111.infotext(settings)
    )
    return png[:ihdr_end] + chunks + png[ihdr_end:]


def with_user_comment(data: bytes, text: str) -> bytes:
    """A JPEG or WebP with `text` as its EXIF UserComment (replacing any EXIF it had), as A1111 does."""
    exif = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(text, encoding="unicode")}})
    out = io.BytesIO()
    piexif.insert(exif, data, out)
    return out.getvalue()


def _fit_jpeg_segment(text: str, settings: dict[str, Any]) -> str:
    """A prompt too long for one JPEG segment (32,000 characters of emoji) is cut so the rest still
    fits: the settings line is kept whole."""
    if len(text.encode("utf-16-be")) <= JPEG_COMMENT_BYTES:
        return text
    prompt = str(settings.get("prompt") or "")
    while prompt and len(text.encode("utf-16-be")) > JPEG_COMMENT_BYTES:
        prompt = prompt[: len(prompt) * 3 // 4]
        text = a1111.infotext({**settings, "prompt": prompt, "negative_prompt": ""})
    return text
