"""Read the settings an image file carries, whichever tool wrote them, from its header only: PNG
text chunks before the pixel data and EXIF are read without decoding a pixel."""

from __future__ import annotations

import json
import struct
import warnings
from collections.abc import Callable
from typing import Any

from PIL import ExifTags
from PIL import Image as PILImage

from studio import imaging
from studio.metadata import Found, a1111, comfyui, integer, invokeai, text, writer

# How EXIF UserComment names its encoding (the first 8 bytes), as piexif.helper reads it.
COMMENT_CODES = {b"ASCII\x00\x00\x00": "ascii", b"UNICODE\x00": "utf-16-be"}


def read(data: bytes) -> Found | None:
    """The settings in the file, or None if it carries none Atelier understands. ImageRejected
    (imaging) for a file that is not an acceptable image."""
    _, info = imaging.header_info(data)
    for key, parse in READERS:
        raw = info.get(key)
        if isinstance(raw, str) and (found := parse(raw)):
            return found
    comment = user_comment(info.get("exif"))
    return a1111.parse(comment) if comment else None


def user_comment(exif: Any) -> str:
    """EXIF UserComment as text: UNICODE (UTF-16-BE, as A1111 writes it) or ASCII, else UTF-8
    ignoring errors, as A1111's reader falls back to."""
    if not isinstance(exif, bytes):
        return ""
    try:
        with warnings.catch_warnings():  # a stranger's corrupt EXIF is not worth a log line
            warnings.simplefilter("ignore")
            raw = PILImage.Exif()
            raw.load(exif)
            comment = raw.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.UserComment)
    except (SyntaxError, ValueError, TypeError, KeyError, OSError, struct.error):
        return ""
    if not isinstance(comment, bytes):
        return comment if isinstance(comment, str) else ""
    encoding = COMMENT_CODES.get(comment[:8])
    if encoding:
        return comment[8:].decode(encoding, errors="replace").rstrip("\x00")
    return comment.decode("utf-8", errors="ignore").rstrip("\x00")


def _json(parse: Callable[[Any], Found | None]) -> Callable[[str], Found | None]:
    def read_json(raw: str) -> Found | None:
        try:
            return parse(json.loads(raw))
        except (ValueError, RecursionError):
            return None

    return read_json


def from_atelier(settings: Any) -> Found | None:
    """Atelier's own JSON chunk (studio.jobs builds it)."""
    if not isinstance(settings, dict):
        return None
    options = settings.get("options")
    # An edit's operation and strength: the studio form makes new images from a prompt only.
    others = [("Operation", text(settings.get("operation")))] if settings.get("operation") != "generate" else []
    if settings.get("strength") is not None:
        others.append(("Denoising strength", str(settings["strength"])))
    return Found(
        "Atelier",
        prompt=text(settings.get("prompt")),
        negative_prompt=text(settings.get("negative_prompt")),
        model=text(settings.get("model")),
        seed=integer(settings.get("seed")),
        width=integer(settings.get("width")),
        height=integer(settings.get("height")),
        quality=text(settings.get("quality")),
        options=options if isinstance(options, dict) else {},
        others=tuple((name, value) for name, value in others if value),
    )


READERS: tuple[tuple[str, Callable[[str], Found | None]], ...] = (
    (writer.ATELIER_KEY, _json(from_atelier)),
    (writer.A1111_KEY, a1111.parse),
    ("prompt", _json(comfyui.from_prompt)),
    ("workflow", _json(comfyui.from_workflow)),
    ("invokeai_metadata", _json(invokeai.from_metadata)),
    ("sd-metadata", _json(invokeai.from_sd_metadata)),
)
