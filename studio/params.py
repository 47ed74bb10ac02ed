"""Values people can type or tamper with in a URL, form or request body (ids, days, JSON bodies):
parsed strictly, so a bad one is a message, never a crash."""

from __future__ import annotations

import json
import re
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


def json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (empty: {}). ValueError with the message to show
    for anything else: not JSON, not UTF-8, a 5000-digit number, nesting past the stack."""
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise ValueError("The body must be JSON.") from None
    if not isinstance(payload, dict):
        raise ValueError("The body must be a JSON object.")
    return payload
