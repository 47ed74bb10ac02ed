"""The one interface every provider implements, and the values that cross it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

from django.utils import timezone

from studio.catalog import Model, Operation


class ErrorKind(StrEnum):
    INVALID_REQUEST = "invalid_request"
    CONTENT_POLICY = "content_policy"
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    INTERNAL = "internal"

    @property
    def retryable(self) -> bool:
        return self in {ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT}


class Canceled(Exception):
    """The user canceled the job while the provider worked; the provider was told to stop too."""


class ProviderError(Exception):
    """A provider refused or failed a request; `message` is shown to the user as is."""

    def __init__(self, kind: ErrorKind, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class GenerationRequest:
    operation: Operation
    model: Model
    prompt: str
    negative_prompt: str
    width: int
    height: int
    quality: str
    n: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    image: bytes | None = None  # source image for edits, variations, upscales (PNG)
    mask: bytes | None = None  # greyscale PNG the size of `image`, white where the image may change
    strength: float | None = None  # remix: 0 keeps the source, 1 ignores it
    factor: int | None = None  # upscale
    # Per-operation settings: extend (outpaint), search_prompt, control_kind and control_strength,
    # fidelity (style).
    edit_settings: dict[str, Any] = field(default_factory=dict)
    references: tuple[bytes, ...] = ()  # more images to draw from, beside `image` (PNG)
    # Long-running providers report their job id and percent done; False means the user canceled.
    progress: Callable[[str, int | None], bool] = lambda provider_job_id, percent: True


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    seed: int | None = None
    revised_prompt: str = ""


@dataclass(frozen=True)
class ProviderResult:
    images: list[GeneratedImage]
    provider_job_id: str = ""
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """The result of a provider's cheap connectivity check, for the Providers page."""

    ok: bool
    detail: str


class ImageProvider(Protocol):
    def generate(self, request: GenerationRequest) -> ProviderResult: ...

    def check(self) -> Check: ...


def retry_after(headers: Any) -> float | None:
    """Seconds to wait, from `retry-after-ms`, or `retry-after` in seconds or as an HTTP date."""
    if value := headers.get("retry-after-ms"):
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None
