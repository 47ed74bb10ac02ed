"""Hostile files in every upload field — the editor's source, mask and references, the PNG settings
import, and the API's base64 image, mask and references: truncated, malformed, decompression bombs,
SVG, HTML and polyglots, too large, empty. Each gets a 4xx with a message (or, for a file that is
a valid image after all, no 5xx), and no request's peak memory reaches 300 MB."""

from __future__ import annotations

import base64
import functools
import html
import inspect
import io
import json
import math
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client
from PIL import Image as PILImage

from accounts.models import ApiToken, hash_token
from studio.metadata import writer
from studio.models import Job
from tests import fuzz
from tests.factories import make_image, make_job, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

PEAK_LIMIT_MB = 300
# A model that takes reference images for edits (configured with a fake key below).
REFERENCES_MODEL = "gpt-image-1"

# --- hostile files -----------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, *, rows: int = 0, alpha: bool = False) -> bytes:
    """An RGB (or opaque RGBA) PNG header for width×height whose pixel data (black) is streamed
    through zlib: `rows` rows of it, or all of them (a real, tiny file that decodes to the full size)."""
    compressor = zlib.compressobj(1)
    row = b"\x00" + (b"\x00\x00\x00\xff" if alpha else b"\x00\x00\x00") * width
    data = b"".join(compressor.compress(row) for _ in range(rows or height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return writer.PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def mask_declaring(width: int, height: int) -> bytes:
    """A greyscale mask PNG, black with its middle half (in each direction) painted white."""
    compressor = zlib.compressobj(1)
    outside = b"\x00" * (1 + width)
    inside = b"\x00" + b"\x00" * (width // 4) + b"\xff" * (width - 2 * (width // 4)) + b"\x00" * (width // 4)
    rows = (inside if height // 4 <= y < height - height // 4 else outside for y in range(height))
    data = b"".join(compressor.compress(row) for row in rows) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return writer.PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def limit_side() -> int:
    """The side of the largest square image an upload may be."""
    return math.isqrt(django_settings.IMAGE_MAX_PIXELS)


def _encoded(fmt: str, size: tuple[int, int] = (256, 256)) -> bytes:
    """A noisy image (so it does not compress to nothing) in a format."""
    out = io.BytesIO()
    PILImage.effect_noise(size, 64).convert("RGB").save(out, fmt)
    return out.getvalue()


def _gif_declaring(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02D\x01\x00"
    return b"GIF89a" + screen + frame + b";"


def _jpeg_declaring(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 64


def _webp_declaring(width: int, height: int) -> bytes:
    vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _with_settings(metadata: Any) -> bytes:
    """A valid PNG carrying Atelier's settings chunk, holding `metadata` as JSON."""
    png = _encoded("PNG", (64, 64))
    end = len(writer.PNG_SIGNATURE) + 8 + 13 + 4
    text = json.dumps(metadata, allow_nan=True)
    return png[:end] + _chunk(b"iTXt", b"atelier\x00\x00\x00\x00\x00" + text.encode()) + png[end:]


@dataclass(frozen=True)
class Payload:
    name: str
    make: Callable[[], bytes]
    # "refuse": the answer must be a 4xx with a message; "too large": a 413 with a message; "any":
    # a valid image after all, so it may be taken, but never with a 5xx.
    expect: str = "refuse"
    nightly: bool = False  # another of a kind CI already sends, for the nightly run only
    # Slow to send (20 MB): in CI only to one field of each way in (ONE_FIELD_EACH_WAY), nightly to all.
    costly: bool = False


PAYLOADS = [
    Payload("empty", lambda: b""),
    Payload("truncated PNG", lambda: _encoded("PNG")[:2000]),
    Payload("truncated JPEG", lambda: _encoded("JPEG")[:2000]),
    Payload("truncated WebP", lambda: _encoded("WEBP")[:2000]),
    Payload("PNG signature then junk", lambda: writer.PNG_SIGNATURE + bytes(range(256)) * 8),
    Payload(
        "PNG with a bad CRC", lambda: (lambda png: png[:29] + b"\x00" * 4 + png[33:])(_encoded("PNG")), nightly=True
    ),
    Payload("not an image", lambda: b"MZ\x90\x00" + bytes(range(256)) * 16, nightly=True),
    Payload("PNG declaring 100000x100000", lambda: png_declaring(100_000, 100_000, rows=1)),
    # Decoded in full by every field that takes it: the near-limit cases below (CI) cover the ways
    # a large image is taken, with memory; nightly, every field gets it.
    Payload("PNG at the pixel limit in 100 KB", lambda: png_declaring(limit_side(), limit_side()), "any", True),
    Payload("GIF declaring 65535x65535", lambda: _gif_declaring(65535, 65535), nightly=True),
    Payload("JPEG declaring 65500x65500", lambda: _jpeg_declaring(65500, 65500), nightly=True),
    Payload("WebP declaring 16383x16383", lambda: _webp_declaring(16383, 16383)),
    Payload(
        "SVG with a script",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"><script>alert(1)</script></svg>',
    ),
    Payload("HTML behind a PNG signature", lambda: writer.PNG_SIGNATURE + b"<html><script>alert(1)</script>"),
    # A GIF whose width bytes open a JS comment: a valid 10799x1 GIF and a script at once.
    Payload(
        "GIF/JS polyglot",
        lambda: b"GIF89a/*\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;*/=alert(1);",
        "any",
    ),
    Payload(
        "just over the file limit",
        lambda: writer.PNG_SIGNATURE + bytes(django_settings.UPLOAD_MAX_BYTES - 7),
        costly=True,
    ),
    Payload("valid 64x64 PNG", lambda: _encoded("PNG", (64, 64)), "any"),
]
# Only the settings import reads what a PNG says about itself.
IMPORT_PAYLOADS = [
    Payload(f"settings with {label}", functools.partial(_with_settings, metadata), "any")
    for label, metadata in [
        ("options as a list", {"model": "offline", "prompt": "x", "options": ["a", 1]}),
        ("options as a string", {"model": "offline", "prompt": "x", "options": "cfg=7"}),
        ("options nested", {"model": "offline", "prompt": "x", "options": {"a": {"b": [None]}}}),
        (
            "every field the wrong type",
            {
                "model": [],
                "prompt": {},
                "negative_prompt": 1,
                "quality": [],
                "n": "x",
                "seed": [1],
                "width": "x",
                "height": None,
                "options": None,
            },
        ),
        ("huge numbers", {"model": "offline", "n": 10**30, "seed": -(10**30), "width": 10**9, "height": 1e308}),
        ("NaN and infinity", {"model": "offline", "n": float("nan"), "seed": float("inf"), "width": float("nan")}),
        ("a list, not an object", [1, 2, 3]),
        ("a lone surrogate", {"model": "offline", "prompt": "\ud800"}),
        ("an unknown model", {"model": "x" * 10_000, "prompt": "x" * 100_000}),
    ]
]
_bytes_cache: dict[str, bytes] = {}


def payload_bytes(payload: Payload) -> bytes:
    if payload.name not in _bytes_cache:
        _bytes_cache[payload.name] = payload.make()
    return _bytes_cache[payload.name]


# --- upload fields -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """An upload field, in the context that makes the server read it."""

    name: str
    path: str
    form: dict[str, str] | None = None  # multipart: these fields, and the file under `file_field`
    file_field: str = ""
    json: dict[str, Any] | None = None  # API: this body, the payload base64 at `json_field`
    json_field: str = ""
    copies: int = 1  # the same file this many times (references)
    api: bool = False  # multipart sent with the API token (the compatible APIs), not the session


EDIT = {"model": "offline", "prompt": "a lighthouse"}
SIDES = {f"extend_{side}": "4096" for side in ("left", "top", "right", "bottom")}
FIELDS = [
    Field("editor image, variation", "/edit/jobs/", {**EDIT, "operation": "variation"}, "image"),
    Field("editor image, outpaint +4096 px a side", "/edit/jobs/", {**EDIT, "operation": "outpaint", **SIDES}, "image"),
    Field(
        "editor image, outpaint to 1:4",
        "/edit/jobs/",
        {**EDIT, "operation": "outpaint", "extend_aspect": "1:4"},
        "image",
    ),
    Field("editor image, upscale x4", "/edit/jobs/", {**EDIT, "operation": "upscale", "factor": "4"}, "image"),
    Field("editor mask, inpaint", "/edit/jobs/", {**EDIT, "operation": "edit", "source": "@image"}, "mask"),
    Field(
        "editor mask, outpaint",
        "/edit/jobs/",
        {**EDIT, "operation": "outpaint", "source": "@image", "extend_left": "64"},
        "mask",
    ),
    Field(
        "editor references",
        "/edit/jobs/",
        {**EDIT, "model": REFERENCES_MODEL, "operation": "edit", "source": "@image", "mask": "@mask"},
        "references",
    ),
    Field(
        "editor references x5",
        "/edit/jobs/",
        {**EDIT, "model": REFERENCES_MODEL, "operation": "edit", "source": "@image", "mask": "@mask"},
        "references",
        copies=5,
    ),
    Field("settings import", "/form/import/", {}, "image"),
    Field("API settings import", "/api/v1/settings/import", json={"model": "offline"}, json_field="image"),
    Field("API image, variation", "/api/v1/jobs", json={**EDIT, "operation": "variation"}, json_field="image"),
    Field(
        "API image, outpaint +4096 px a side",
        "/api/v1/jobs",
        json={**EDIT, "operation": "outpaint", "extend": {"left": 4096, "top": 4096, "right": 4096, "bottom": 4096}},
        json_field="image",
    ),
    Field(
        "API mask, inpaint",
        "/api/v1/jobs",
        json={**EDIT, "operation": "edit", "source_image": "@image"},
        json_field="mask",
    ),
    Field(
        "API references",
        "/api/v1/jobs",
        json={**EDIT, "model": REFERENCES_MODEL, "operation": "edit", "source_image": "@image", "mask": "@mask"},
        json_field="references",
    ),
    Field("API settings import, multipart", "/api/v1/settings/import", {}, "image", api=True),
    Field("OpenAI edit image", "/openai/v1/images/edits", EDIT, "image", api=True),
    Field("OpenAI edit image[]", "/openai/v1/images/edits", EDIT, "image[]", api=True),
    Field("OpenAI edit mask", "/openai/v1/images/edits", {**EDIT, "image": "@mask"}, "mask", api=True),
    Field("OpenAI variation image", "/openai/v1/images/variations", {"model": "dall-e-2"}, "image", api=True),
    Field("A1111 init image", "/sdapi/v1/img2img", json={"prompt": "a lighthouse"}, json_field="init_images"),
    Field(
        "A1111 mask, inverted",
        "/sdapi/v1/img2img",
        json={"prompt": "a lighthouse", "init_images": ["@mask"], "inpainting_mask_invert": 1},
        json_field="mask",
    ),
]


# The fields costly payloads go to in CI: one for each way a file comes in.
ONE_FIELD_EACH_WAY = {
    "editor image, variation",
    "settings import",
    "API image, variation",
    "OpenAI edit image",
    "A1111 init image",
}

# Open findings: each case listed here is marked xfail until its finding is fixed (an XPASS says so).
KNOWN: dict[str, str] = {}


def _cases() -> Iterator[Any]:
    for field in FIELDS:
        payloads = PAYLOADS + (IMPORT_PAYLOADS if "import" in field.path else [])
        for payload in payloads if fuzz.NIGHTLY else [p for p in payloads if not p.nightly]:
            if payload.costly and not fuzz.NIGHTLY and field.name not in ONE_FIELD_EACH_WAY:
                continue
            if field.copies > 1 and payload.name == "just over the file limit":
                continue  # five of them are over the request limit, a case of its own below
            if field.name.startswith("A1111 mask") and payload.name == "empty":
                continue  # A1111 reads an empty mask as none: an img2img without a mask
            yield fuzz.case(field, payload, id=f"{field.name} <- {payload.name}", known=KNOWN)
    # One body over the whole request's limit for each way in: the editor, the import, the API.
    over = Payload("over the request limit", lambda: writer.PNG_SIGNATURE + bytes(_request_limit() + 1), "too large")
    for field in FIELDS:
        if field.name in ("editor image, variation", "settings import", "API image, variation"):
            yield fuzz.case(field, over, id=f"{field.name} <- {over.name}", known=KNOWN)


def _request_limit() -> int:
    return getattr(django_settings, "REQUEST_MAX_BYTES", 3 * django_settings.UPLOAD_MAX_BYTES)


# --- the world: a user, an API token, a gallery image to edit ------------------------------------


@dataclass
class World:
    user: Client
    api: Client
    image_id: int  # a 64x64 gallery image to edit ("@image")
    mask_png: bytes  # a mask for it ("@mask"), as a file or, in the API, base64
    media: Path


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    media = tmp_path_factory.mktemp("fuzz-upload-media")
    with fuzz.module_rows(django_db_blocker, media), fuzz.quiet_request_log():
        alice = make_user(username="alice")
        image = make_image(make_job(alice, status=Job.Status.SUCCEEDED))
        raw = ApiToken.new_raw()
        ApiToken.objects.create(user=alice, name="api", digest=hash_token(raw), hint=raw[:8])
        user = Client()
        user.force_login(alice)
        # A first request pays for imports and template loading; not any case's memory or time.
        user.get("/edit/")
        yield World(user, Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), image.pk, fuzz.mask_png(), media)


@pytest.fixture(autouse=True)
def upload_settings(world, settings, media_root):
    """The world's media folder; every provider "configured" (at an address nothing listens on)."""
    settings.MEDIA_ROOT = world.media
    settings.PROVIDER_SETTINGS = {
        name: {key: "http://127.0.0.1:9" if key == "base_url" else "fuzz-key" for key in conf}
        for name, conf in settings.PROVIDER_SETTINGS.items()
    }
    settings.COMPAT_WAIT_SECONDS = 0  # no job runs here: the compatible APIs answer "still running" at once


# --- sending and judging ---------------------------------------------------------------------------


def _request(world: World, field: Field, data: bytes) -> tuple[Client, str, bytes, str]:
    if field.json is not None:

        def resolve(value: Any) -> Any:
            if isinstance(value, list):
                return [resolve(item) for item in value]
            if value == "@mask":
                return base64.b64encode(world.mask_png).decode()
            return world.image_id if value == "@image" else value

        body: dict[str, Any] = {key: resolve(value) for key, value in field.json.items()}
        encoded = base64.b64encode(data).decode()
        listed = field.json_field in ("references", "init_images")
        body[field.json_field] = [encoded] * field.copies if listed else encoded
        return world.api, field.path, json.dumps(body).encode(), "application/json"
    pairs = [(k, str(world.image_id) if v == "@image" else v) for k, v in (field.form or {}).items() if v != "@mask"]
    files = [(field.file_field, "upload.png", data)] * field.copies
    files += [(key, f"{key}.png", world.mask_png) for key, value in (field.form or {}).items() if value == "@mask"]
    client = world.api if field.api else world.user
    return client, field.path, fuzz.multipart(pairs, files), fuzz.MULTIPART


def message_of(outcome: fuzz.Outcome) -> str:
    """What the page or the JSON tells the user about the refusal."""
    text = outcome.content.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            answer = json.loads(text)
            error = answer.get("error") or {}
        except (ValueError, AttributeError):
            return ""
        if "detail" in answer:  # the AUTOMATIC1111 API's (FastAPI's) shape
            detail = answer["detail"]
            return " ".join(p["msg"] for p in detail) if isinstance(detail, list) else str(detail)
        fields = error.get("fields") or {}
        return " ".join([error.get("message", ""), *(m for ms in fields.values() for m in ms)]).strip()
    shown = re.findall(r'<p class="error"[^>]*>(.*?)</p>', text, re.S)
    if not shown:
        shown = re.findall(r"<p>(.*?)</p>", text, re.S)[:1]
    return html.unescape(" ".join(re.sub(r"<[^>]+>", "", m).strip() for m in shown)).strip()


@pytest.mark.parametrize(("field", "payload"), list(_cases()))
def test_hostile_upload_is_refused_clearly_within_memory(world, field: Field, payload: Payload):
    """The peak counts the test client's own copy of the body too (as much again as the body)."""
    data = payload_bytes(payload)
    client, path, body, content_type = _request(world, field, data)
    with transaction.atomic(), fuzz.peak_memory() as peak:
        outcome = fuzz.send(client, "POST", path, body=body, content_type=content_type, seconds=60)
        transaction.set_rollback(True)
    if fuzz.still_running(outcome):
        outcome.failure_error = ""
    message = message_of(outcome) if not outcome.failed else ""
    print(
        f"\n[upload] {field.name} <- {payload.name}: {outcome.status or outcome.failure_error}, "
        f"peak +{peak.mb:.0f} MB ({peak.how}), {outcome.seconds:.2f} s: {message[:160]}"
    )
    assert not outcome.failed, f"{outcome.failure_error} at {outcome.where}"
    assert peak.mb < PEAK_LIMIT_MB, f"the request's peak memory was {peak.mb:.0f} MB ({peak.how})"
    if payload.expect == "refuse":
        assert 400 <= outcome.status < 500, f"answered {outcome.status} to a file that is not a usable image"
        assert message, "refused without saying why"
    if payload.expect == "too large":
        assert outcome.status == 413 and message, f"answered {outcome.status} ({message!r}) to a body over the limit"


# --- images at the limits, taken: within memory too --------------------------------------------------


@dataclass(frozen=True)
class AtLimit:
    """A request carrying images as large as the limits let through, which must be taken."""

    name: str
    path: str
    build: Callable[[], tuple[list[tuple[str, str]], list[tuple[str, str, bytes]]] | dict[str, Any]]
    nightly: bool = False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@functools.cache
def _rgba_at_limit() -> bytes:
    return png_declaring(limit_side(), limit_side(), alpha=True)


@functools.cache
def _mask_at_limit() -> bytes:
    return mask_declaring(limit_side(), limit_side())


@functools.cache
def _outpaint_source() -> tuple[bytes, int]:
    """A source that 64 px a side extend to the largest canvas on the models' 64 px grid."""
    canvas = limit_side() // 64 * 64
    return png_declaring(canvas - 128, canvas - 128), 64


def _editor(operation: str, **files: Callable[[], bytes]) -> Callable[[], Any]:
    def build():
        fields = [("model", "offline"), ("prompt", "a lighthouse"), ("operation", operation)]
        if operation == "outpaint":
            fields += [(f"extend_{side}", str(_outpaint_source()[1])) for side in ("left", "top", "right", "bottom")]
        return fields, [(name, f"{name}.png", make()) for name, make in files.items()]

    return build


def _api(operation: str, **images: Callable[[], bytes]) -> Callable[[], Any]:
    def build():
        body: dict[str, Any] = {"model": "offline", "prompt": "a lighthouse", "operation": operation}
        if operation == "outpaint":
            body["extend"] = dict.fromkeys(("left", "top", "right", "bottom"), _outpaint_source()[1])
        return body | {name: _b64(make()) for name, make in images.items()}

    return build


AT_LIMIT = [
    AtLimit(
        "editor inpaint <- RGBA and its mask at the pixel limit",
        "/edit/jobs/",
        _editor("edit", image=_rgba_at_limit, mask=_mask_at_limit),
    ),
    AtLimit(
        "editor outpaint <- a canvas at the pixel limit",
        "/edit/jobs/",
        _editor("outpaint", image=lambda: _outpaint_source()[0]),
    ),
    AtLimit(
        "API outpaint <- a canvas at the pixel limit",
        "/api/v1/jobs",
        _api("outpaint", image=lambda: _outpaint_source()[0]),
    ),
    # Nightly: the same ways through the editing code, from the other callers.
    AtLimit(
        "editor variation <- RGBA at the pixel limit",
        "/edit/jobs/",
        _editor("variation", image=_rgba_at_limit),
        nightly=True,
    ),
    AtLimit(
        "editor remix <- RGBA at the pixel limit", "/edit/jobs/", _editor("remix", image=_rgba_at_limit), nightly=True
    ),
    AtLimit(
        "API inpaint <- RGBA and its mask at the pixel limit",
        "/api/v1/jobs",
        _api("edit", image=_rgba_at_limit, mask=_mask_at_limit),
        nightly=True,
    ),
    AtLimit(
        "A1111 inpaint <- RGBA and its mask at the pixel limit",
        "/sdapi/v1/img2img",
        lambda: {"prompt": "a lighthouse", "init_images": [_b64(_rgba_at_limit())], "mask": _b64(_mask_at_limit())},
        nightly=True,
    ),
]


@pytest.mark.parametrize("case", [c for c in AT_LIMIT if fuzz.NIGHTLY or not c.nightly], ids=lambda c: c.name)
def test_images_at_the_limits_are_taken_within_memory(world, case: AtLimit):
    built = case.build()
    if isinstance(built, dict):
        client, body, content_type = world.api, json.dumps(built).encode(), "application/json"
    else:
        client, body, content_type = world.user, fuzz.multipart(*built), fuzz.MULTIPART
    with transaction.atomic(), fuzz.peak_memory() as peak:
        outcome = fuzz.send(client, "POST", case.path, body=body, content_type=content_type, seconds=60)
        transaction.set_rollback(True)
    if fuzz.still_running(outcome):
        outcome.failure_error = ""
    print(f"\n[at limit] {case.name}: {outcome.status or outcome.failure_error}, peak +{peak.mb:.0f} MB ({peak.how}), "
          f"{outcome.seconds:.2f} s")  # fmt: skip
    assert not outcome.failed, f"{outcome.failure_error} at {outcome.where}"
    assert outcome.status in (201, 302) or fuzz.still_running(outcome), (outcome.status, message_of(outcome))
    assert peak.mb < PEAK_LIMIT_MB, f"the request's peak memory was {peak.mb:.0f} MB ({peak.how})"


# --- JSON bodies just under the request limit --------------------------------------------------------
# Parsed naively, 54 MB of `[{},{},…]` was 1.4 GB of Python objects, and one emoji makes a long
# string 4 bytes a character. Each JSON route refuses (or takes) them within memory.

JSON_ROUTES = {
    "/api/v1/jobs": {"model": "offline", "prompt": "a lighthouse"},
    "/openai/v1/images/generations": {"model": "offline", "prompt": "a lighthouse"},
    "/sdapi/v1/txt2img": {"prompt": "a lighthouse"},
    "/sdapi/v1/img2img": {"prompt": "a lighthouse"},
    "/sdapi/v1/options": {"sd_model_checkpoint": "offline"},
    "/api/v1/settings/import": {"model": "offline"},
}


def _near_limit(fields: dict[str, Any], head: bytes, filler: bytes, tail: bytes) -> bytes:
    """The fields and a `junk` value, `head`, `filler` repeated and `tail`, 1 KB under the limit."""
    start = json.dumps(fields)[:-1].encode() + b', "junk": ' + head
    count = (_request_limit() - 1024 - len(start) - len(tail)) // len(filler)
    return start + filler * count + tail


# name: (the junk value's head, filler and tail; nightly only)
JSON_BODIES: dict[str, tuple[tuple[bytes, bytes, bytes], bool]] = {
    "empty objects": ((b"[", b"{},", b"{}]}"), False),
    "one emoji, then ASCII": (('"\U0001f600'.encode(), b"A", b'"}'), False),
    "an escaped emoji, then ASCII": ((b'"\\ud83d\\ude00', b"A", b'"}'), True),
    "numbers": ((b"[", b"0.5,", b"0]}"), True),
    "whitespace": ((b"[", b" ", b"]}"), True),
    "plain ASCII, taken as base64": ((b'"', b"A", b'"}'), True),
}


def _json_cases() -> Iterator[Any]:
    for path in JSON_ROUTES:
        for name, (_, nightly) in JSON_BODIES.items():
            # CI: the first body to every route (one parser for them all), the second to one.
            if fuzz.NIGHTLY or name == "empty objects" or (not nightly and path == "/api/v1/jobs"):
                yield pytest.param(path, name, id=f"{path} <- {name}")


@pytest.mark.parametrize(("path", "body_name"), list(_json_cases()))
def test_a_hostile_json_body_under_the_request_limit_stays_within_memory(world, path: str, body_name: str):
    body = _near_limit(JSON_ROUTES[path], *JSON_BODIES[body_name][0])
    assert _request_limit() - 2048 < len(body) <= _request_limit()
    with transaction.atomic(), fuzz.peak_memory() as peak:
        outcome = fuzz.send(world.api, "POST", path, body=body, content_type="application/json", seconds=60)
        transaction.set_rollback(True)
    if fuzz.still_running(outcome):
        outcome.failure_error = ""
    message = message_of(outcome) if not outcome.failed else ""
    print(f"\n[json] {path} <- {body_name}: {outcome.status or outcome.failure_error}, peak +{peak.mb:.0f} MB "
          f"({peak.how}), {outcome.seconds:.2f} s: {message[:160]}")  # fmt: skip
    assert not outcome.failed, f"{outcome.failure_error} at {outcome.where}"
    assert peak.mb < PEAK_LIMIT_MB, f"the request's peak memory was {peak.mb:.0f} MB ({peak.how})"
    if outcome.status >= 400 and not fuzz.still_running(outcome):
        assert message, "refused without saying why"


# --- the list of upload fields is the views' ---------------------------------------------------------

FILES_READ = re.compile(r'FILES(?:\.get(?:list)?\(\s*|\[\s*)"([^"]+)"')
FILES_BY_PARAMETER = re.compile(r"FILES\.get(?:list)?\(\s*[a-z_]+\s*\)")
FORM_WITH_FILES = re.compile(r"(\w+)\(\s*request\.POST,\s*request\.FILES")


def _module_functions_reached(view: Callable[..., Any]) -> list[Callable[..., Any]]:
    """The view and every function of its module it calls, and they call, and so on."""
    module = inspect.getmodule(view)
    reached, queue = [view], [view]
    while queue:
        for name in re.findall(r"\b(\w+)\(", inspect.getsource(queue.pop())):
            found = getattr(module, name, None)
            if inspect.isfunction(found) and found.__module__ == module.__name__ and found not in reached:
                reached.append(found)
                queue.append(found)
    return reached


def files_read_by_views() -> set[tuple[str, str]]:
    """(path, field) for every file a view reads: by name from request.FILES (in the view, in a
    function of its module that it calls, or passed by name to such a function that reads the file
    whose name it is given), and a form's file fields when the view gives request.FILES to a form."""
    read = set()
    for route in fuzz.walk_urlconf():
        functions = _module_functions_reached(inspect.unwrap(route.callback))
        sources = {function: inspect.getsource(function) for function in functions}
        source = "\n".join(sources.values())
        names = set(FILES_READ.findall(source))
        for function, text in sources.items():
            if FILES_BY_PARAMETER.search(text):  # a helper given the field's name: `_upload(request, "image")`
                names |= set(re.findall(rf'\b{function.__name__}\([^)"]*"([^"]+)"', source))
        for form_name in FORM_WITH_FILES.findall(source):
            form = getattr(inspect.getmodule(functions[0]), form_name)
            names |= {name for name, f in form.base_fields.items() if isinstance(f, forms.FileField)}
        read |= {(route.template, name) for name in names}
    return read


def test_every_file_a_view_reads_is_an_upload_field():
    listed = {(field.path, field.file_field) for field in FIELDS if field.form is not None}
    read = files_read_by_views()
    assert ("/openai/v1/images/edits", "image[]") in read and ("/edit/jobs/", "references") in read  # the scan works
    assert sorted(read - listed) == [], "add these files to FIELDS"
