"""Hostile files in every upload field — the editor's source, mask and references, the PNG settings
import, and the API's base64 image, mask and references: truncated, malformed, decompression bombs,
SVG, HTML and polyglots, too large, empty. Each gets a 4xx with a message (or, for a file that is
a valid image after all, no 5xx), and no request's peak memory reaches 300 MB."""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
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


def png_declaring(width: int, height: int, *, rows: int = 0) -> bytes:
    """An RGB PNG header for width×height whose pixel data (all black) is streamed through zlib:
    `rows` rows of it, or all of them (a real, tiny file that decodes to width×height×3 bytes)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    data = b"".join(compressor.compress(row) for _ in range(rows or height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return writer.PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


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
    Payload("PNG 6000x6000 in 100 KB (within the pixel limit)", lambda: png_declaring(6000, 6000), "any"),
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
    Payload("just over the file limit", lambda: writer.PNG_SIGNATURE + bytes(django_settings.UPLOAD_MAX_BYTES - 7)),
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
    Field("OpenAI edit image", "/openai/v1/images/edits", EDIT, "image", api=True),
    Field("OpenAI edit mask", "/openai/v1/images/edits", {**EDIT, "image": "@mask"}, "mask", api=True),
    Field("A1111 init image", "/sdapi/v1/img2img", json={"prompt": "a lighthouse"}, json_field="init_images"),
    Field(
        "A1111 mask, inverted",
        "/sdapi/v1/img2img",
        json={"prompt": "a lighthouse", "init_images": ["@mask"], "inpainting_mask_invert": 1},
        json_field="mask",
    ),
]


# Open findings: each mark goes when its finding is fixed (an XPASS says so).
# Open findings: each case listed here is marked xfail until its finding is fixed (an XPASS says so).
KNOWN: dict[str, str] = {}


def _cases() -> Iterator[Any]:
    for field in FIELDS:
        payloads = PAYLOADS + (IMPORT_PAYLOADS if "import" in field.path else [])
        for payload in payloads if fuzz.NIGHTLY else [p for p in payloads if not p.nightly]:
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
