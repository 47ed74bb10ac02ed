"""Values people can type or tamper with in a URL, form or request body (ids, days, JSON bodies):
parsed strictly, so a bad one is a message, never a crash."""

from __future__ import annotations

import json
import re
import secrets
from datetime import date
from typing import Any

MAX_ID_DIGITS = 18  # below 2**63: every database takes it as an integer key
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # room for time zones on both sides


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def text(raw: str, max_length: int) -> str:
    """Free text for a filter or a name: without control characters (NUL, which PostgreSQL cannot
    store) or halves of surrogate pairs, trimmed, no longer than its field."""
    return CONTROL_CHARACTERS.sub("", raw[: max_length * 4]).strip()[:max_length]


def object_id(text: object) -> int | None:
    """A row id from text such as "42"; None for anything else ("²", "4e2", 23 digits, "")."""
    text = str(text if text is not None else "").strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)


def day(text: str) -> date | None:
    """A YYYY-MM-DD day within 1900…2999; None for anything else."""
    try:
        parsed = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if FIRST_DAY <= parsed <= LAST_DAY else None


# JSON bodies. Parsed naively, a body is many times its size in memory: `[{},{},…]` costs 25 bytes
# per 3 of text (1.4 GB for a 54 MB body), and one character past Latin-1 makes the decoded text,
# and each string holding it, 4 bytes a character. The only large values a request legitimately
# carries are images as base64 (plain ASCII, at most `\/` escaped): each string longer than
# LONG_TEXT_BYTES that is such text is sliced straight out of the body into a Python string
# (1 byte a character), and what is left, the request proper, may be JSON_TEXT_MAX_BYTES at most.
JSON_TEXT_MAX_BYTES = 1024 * 1024  # longest prompts (32,000 characters) several times over
LONG_TEXT_BYTES = 64 * 1024
# Quotes and backslashes are read one by one (in Python) to find the strings: a real request has
# a few hundred; a body with more is refused before that.
JSON_MAX_QUOTES = 100_000
_ESCAPE = re.compile(rb"\\[^/]", re.DOTALL)  # any escape but \/, which base64 may be sent with


def json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (empty: {}). ValueError with the message to show
    for anything else: not JSON, not UTF-8, a 5000-digit number, nesting past the stack, or more
    than JSON_TEXT_MAX_BYTES of JSON apart from its base64 images."""
    body = body or b"{}"
    if not json.detect_encoding(body).startswith("utf-8"):
        raise ValueError("The body must be JSON, in UTF-8.")
    quotes = body.count(b'"') + body.count(b"\\") - body.count(b"\\/")
    if quotes > JSON_MAX_QUOTES:
        raise ValueError(
            f"The body holds {quotes:,} quotes and escapes; Atelier reads at most {JSON_MAX_QUOTES:,} in a JSON body."
        )
    rest, images = (body, {}) if len(body) <= JSON_TEXT_MAX_BYTES else _without_long_strings(body)
    if len(rest) > JSON_TEXT_MAX_BYTES:
        raise ValueError(
            f"The body is {len(rest):,} bytes of JSON apart from its base64 images; Atelier takes at most "
            f"{JSON_TEXT_MAX_BYTES:,} bytes ({JSON_TEXT_MAX_BYTES / 2**20:g} MB)."
        )
    try:
        payload = json.loads(rest)
        if images:
            payload = _with_long_strings(payload, images)
    except (ValueError, RecursionError):
        raise ValueError("The body must be JSON.") from None
    if not isinstance(payload, dict):
        raise ValueError("The body must be a JSON object.")
    return payload


def _without_long_strings(body: bytes) -> tuple[bytes | bytearray, dict[str, str]]:
    """The body with each long plain-ASCII string replaced by a placeholder, and the strings by
    placeholder. Nothing is copied unless what is left would be small enough."""
    spans: list[tuple[int, int]] = []  # (opening quote, closing quote) of each long plain string
    opened, escaped = -1, False
    quote, escape = body.find(b'"'), _ESCAPE.search(body) if b"\\" in body else None
    while quote >= 0:
        if escape and escape.start() < quote:  # inside a string, an escaped quote does not end it
            if opened < 0:
                return body, {}  # a backslash outside a string: not JSON, which json.loads will say
            escaped = True
            if escape.end() > quote:
                quote = body.find(b'"', escape.end())
            escape = _ESCAPE.search(body, escape.end())
            continue
        if opened < 0:
            opened, escaped = quote, False
        else:
            if quote - opened > LONG_TEXT_BYTES and not escaped:
                spans.append((opened, quote))
            opened = -1
        quote = body.find(b'"', quote + 1)
    if not spans or len(body) - sum(end - start for start, end in spans) > JSON_TEXT_MAX_BYTES:
        return body, {}
    nonce = secrets.token_hex(8)
    rest, images, position = bytearray(), {}, 0
    for index, (start, end) in enumerate(spans):
        try:
            text = str(memoryview(body)[start + 1 : end], "ascii")
        except UnicodeDecodeError:
            continue  # not base64: it stays, and counts towards the rest
        placeholder = f"\x00{nonce}:{index}"
        images[placeholder] = text.replace("\\/", "/") if "\\" in text else text
        rest += body[position:start] + json.dumps(placeholder).encode()
        position = end + 1
    rest += body[position:]
    return rest, images


def _with_long_strings(value: Any, images: dict[str, str]) -> Any:
    if isinstance(value, str):
        return images.get(value, value)
    if isinstance(value, list):
        return [_with_long_strings(item, images) for item in value]
    if isinstance(value, dict):
        return {images.get(key, key): _with_long_strings(item, images) for key, item in value.items()}
    return value
