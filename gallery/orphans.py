"""The orphan sweep: media files that no row points to are deleted once they are old enough.

Files are written before their rows commit, so a process killed in between, a failed cleanup or a
deleted job (its inputs and mask) leaves files behind. The grace period (ORPHAN_GRACE_SECONDS)
keeps the files of rows still being written. Safe when several clusters run it at once: each
deletion is of a file nothing refers to, and deleting a file twice is harmless."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.utils import timezone
from storages.backends.s3 import S3Storage

from gallery.models import Image
from studio import media
from studio.models import Job

log = logging.getLogger(__name__)
# Every folder Atelier writes media into (studio.media.store's first argument).
FOLDERS = ("images", "thumbs", "inputs", "masks", "previews", media.PROBE_FOLDER)
BATCH = 500


def sweep_orphan_files() -> int:
    """Delete the media files older than the grace period that no row refers to; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORPHAN_GRACE_SECONDS)
    references = _reference_inputs()
    deleted = 0
    for folder in FOLDERS:
        old = (name for name, modified in _files(default_storage, folder) if modified < cutoff)
        for batch in _batched(old, BATCH):
            orphans = set(batch) - _referenced(batch) - references
            media.discard(sorted(orphans))
            deleted += len(orphans)
    if deleted:
        log.warning("deleted %d media file(s) that no row refers to", deleted)
    return deleted


def _batched(items: Iterable[str], size: int) -> Iterator[tuple[str, ...]]:
    iterator = iter(items)
    while batch := tuple(islice(iterator, size)):
        yield batch


def _referenced(names: tuple[str, ...]) -> set[str]:
    """Which of the names an image or a job row refers to (reference inputs aside). A preview is
    only shown while its job runs: one left by a job whose worker died is an orphan too."""
    found: set[str] = set()
    for field in ("file", "thumbnail"):
        found.update(Image.objects.filter(**{f"{field}__in": names}).values_list(field, flat=True))
    for field in ("source_file", "mask_file"):
        found.update(Job.objects.filter(**{f"{field}__in": names}).values_list(field, flat=True))
    running = Job.objects.filter(preview__in=names, status=Job.Status.RUNNING)
    found.update(running.values_list("preview", flat=True))
    return found


def _reference_inputs() -> set[str]:
    """The reference images of every job that has some (they are kept in the job's params)."""
    lists = Job.objects.filter(params__has_key="references").values_list("params__references", flat=True)
    return {name for names in lists for name in names or ()}


def _files(storage: Storage, folder: str) -> Iterator[tuple[str, datetime]]:
    """Every file under a folder, with when it was last written."""
    if isinstance(storage, S3Storage):
        # One listing call per thousand files, where the generic walk would ask for each file's time.
        prefix = f"{storage.location.strip('/')}/" if storage.location.strip("/") else ""
        for obj in storage.bucket.objects.filter(Prefix=f"{prefix}{folder}/"):
            yield obj.key.removeprefix(prefix), obj.last_modified
        return
    if not storage.exists(folder):
        return
    directories, files = storage.listdir(folder)
    for file in files:
        name = f"{folder}/{file}"
        yield name, storage.get_modified_time(name)
    for directory in directories:
        yield from _files(storage, f"{folder}/{directory}")
