"""Media storage (local disk or S3): writes that fail with a reason people can act on, the
writability probe that start-up and /healthz use, and where a stored file can be found."""

from __future__ import annotations

import errno
import uuid
from collections.abc import Iterable
from contextlib import suppress

from botocore.exceptions import BotoCoreError, ClientError
from django.core import checks
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
# Probe files live here; the orphan sweep removes any that a killed process left behind.
PROBE_FOLDER = "health"


class StorageFailure(Exception):
    """Media storage refused a write: it is full, or not writable. `reason` is for people."""

    def __init__(self, reason: str, *, full: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.full = full


def failure(exc: BaseException) -> StorageFailure | None:
    """What an exception from a storage write means; None when it is not the storage's (a bug).
    Only the error's text is kept, never a path or a key: the reason is shown to users."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return StorageFailure(f"storage full ({exc.strerror})", full=True)
    if isinstance(exc, OSError):
        return StorageFailure(f"storage not writable ({exc.strerror or type(exc).__name__})", full=False)
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "error")
        return StorageFailure(f"storage not writable (S3 answered {code})", full=False)
    if isinstance(exc, BotoCoreError):
        return StorageFailure(f"storage not writable (S3: {type(exc).__name__})", full=False)
    return None


def store(folder: str, extension: str, data: bytes) -> str:
    """Save bytes under a new uuid name (sharded by its first two characters); returns the name.
    Raises StorageFailure when the storage is full or refuses the write."""
    stem = uuid.uuid4().hex
    return _save(f"{folder}/{stem[:2]}/{stem}.{extension}", data)


def _save(name: str, data: bytes) -> str:
    try:
        return default_storage.save(name, ContentFile(data))
    except BaseException as exc:
        # A write that failed half-way (a full disk) leaves a partial or 0-byte file: gone now,
        # not at the next sweep. The name is a fresh uuid, so nothing else can be there.
        discard([name])
        if (reason := failure(exc)) is not None:
            raise reason from exc
        raise


def discard(names: Iterable[str]) -> None:
    """Delete files, best effort: cleaning up after a failure must not hide that failure."""
    for name in names:
        with suppress(Exception):
            default_storage.delete(name)


def probe() -> str | None:
    """Write and delete a small file; None when that works, else the reason it did not."""
    try:
        discard([_save(f"{PROBE_FOLDER}/{uuid.uuid4().hex}.txt", b"ok")])
    except StorageFailure as exc:
        return exc.reason
    return None


def location(name: str) -> str:
    """Where a person finds a stored file: its path on a local disk, or its URL in a bucket (signed,
    unless AWS_S3_CUSTOM_DOMAIN names a public host)."""
    try:
        return default_storage.path(name)
    except NotImplementedError:  # a remote storage has no local path
        return default_storage.url(name)


@checks.register("storage")
def check_media_writable(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Refuse to start (web, worker, any manage.py command) when media cannot be written: every
    job would be paid for at the provider and then fail."""
    reason = probe()
    if reason is None:
        return []
    return [
        checks.Error(
            f"Media storage failed a test write: {reason}.",
            hint="Fix MEDIA_ROOT (or the S3 bucket and its credentials), or pass --skip-checks to a command that "
            "does not write media.",
            id="atelier.E001",
        )
    ]
