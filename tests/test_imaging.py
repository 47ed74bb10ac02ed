"""Uploads and provider output are validated by decoding; settings travel inside PNGs."""

import io
import json
import struct
import zlib

import pytest
from PIL import Image

from studio import imaging
from studio.metadata import reader, writer
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db


def test_text_is_not_an_image():
    with pytest.raises(imaging.ImageRejected, match="not an image"):
        imaging.decode(b"GIF89a but not really")


def test_truncated_png_is_rejected():
    with pytest.raises(imaging.ImageRejected):
        imaging.decode(png_bytes(300, 300)[:200])


def test_file_over_the_size_cap_is_rejected(settings):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(imaging.ImageRejected, match="the limit is"):
        imaging.decode(png_bytes())


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims huge dimensions."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_rejected():
    with pytest.raises(imaging.ImageRejected, match=r"megapixels|decompression bomb"):
        imaging.decode(bomb_png(50_000, 50_000))


def test_metadata_round_trip_and_a1111_parameters():
    metadata = {
        "model": "offline",
        "prompt": "a café ☕",
        "negative_prompt": "blur",
        "seed": 5,
        "width": 64,
        "height": 64,
    }
    processed = imaging.process(png_bytes(), metadata)
    text = Image.open(io.BytesIO(processed.data)).text
    assert text["parameters"].startswith("a café ☕\nNegative prompt: blur\nSeed: 5, Size: 64x64, Model: offline")
    assert json.loads(text["atelier"]) == metadata


def test_metadata_insertion_keeps_the_pixels():
    original = png_bytes(32, 16, (1, 2, 3))
    stored = writer.with_png_chunks(original, {"prompt": "x"})
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_process_makes_a_webp_thumbnail_and_a_hash():
    processed = imaging.process(png_bytes(1200, 600), {"prompt": "p"})
    thumb = Image.open(io.BytesIO(processed.thumbnail))
    assert thumb.format == "WEBP" and max(thumb.size) == imaging.THUMBNAIL_EDGE
    assert (processed.width, processed.height, processed.extension) == (1200, 600, "png")
    assert len(processed.sha256) == 64


def test_png_without_settings_reads_as_none():
    assert reader.read(png_bytes()) is None


def test_shrinking_in_bands_gives_the_same_pixels_as_one_resize():
    import numpy as np

    noise = np.random.default_rng(1).integers(0, 256, (600, 500, 3), dtype=np.uint8)
    img = Image.fromarray(noise)
    whole = np.asarray(img.resize((410, 300), Image.Resampling.LANCZOS))
    assert (np.asarray(imaging.shrink(img, (410, 300))) == whole).all()
