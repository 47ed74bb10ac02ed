"""The one interface every provider implements, and the values that cross it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from studio.specs import ImageRequest


class ErrorKind(StrEnum):
    INVALID_REQUEST = "invalid_request"
    CONTENT_POLICY = "content_policy"
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    # Atelier's media storage (not the provider) was full or not writable.
    STORAGE = "storage"
    INTERNAL = "internal"

    @property
    def retryable(self) -> bool:
        return self in {ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT}


class Canceled(Exception):
    """The user canceled the job while the provider worked; the provider was told to stop too."""


class ProviderError(Exception):
    """A provider refused or failed a request; `message` is shown to the user as is."""

    def __init__(
        self, kind: ErrorKind, message: str, retry_after: float | None = None, *, may_be_paid: bool = False
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        # The provider may have taken (and charged for) the order before this happened: the
        # connection broke or timed out after the request left, a 2xx came back unreadable, or a
        # paid job did not finish in time. A poll is asked again; a paid call is not made again.
        self.may_be_paid = may_be_paid

    @property
    def retry_is_safe(self) -> bool:
        return self.kind.retryable and not self.may_be_paid


class Progress(Protocol):
    """What a provider reports while it works: its own job id, percent done, and where it shows
    one for free (or the user opted in), a preview of the image so far (encoded image bytes: not
    a result). False means the user canceled and the provider should stop (and tell its API to
    stop, where it can)."""

    def __call__(self, provider_job_id: str, percent: int | None, /, preview: bytes | None = None) -> bool: ...


def keep_going(provider_job_id: str, percent: int | None, /, preview: bytes | None = None) -> bool:
    return True


def read_input(name: str) -> bytes:
    """The bytes of one of the request's inputs (source, mask, reference), from storage."""
    with default_storage.open(name) as file:
        return file.read()


def source_image(request: ImageRequest) -> Image.Image:
    return Image.open(io.BytesIO(read_input(request.inputs.source)))


def mask_image(request: ImageRequest) -> Image.Image:
    """The mask as greyscale, white where the image may change."""
    return Image.open(io.BytesIO(read_input(request.inputs.mask))).convert("L")


def reference_pngs(request: ImageRequest) -> list[bytes]:
    return [read_input(name) for name in request.inputs.references]


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
    # USD from the provider's own figures (GPT Image's token usage); None: priced from the catalog.
    cost: Decimal | None = None


@dataclass(frozen=True)
class Check:
    """The result of a provider's cheap connectivity check, for the Providers page."""

    ok: bool
    detail: str


class ImageProvider(Protocol):
    def generate(self, request: ImageRequest, progress: Progress = keep_going) -> ProviderResult: ...

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
