"""Writes for the gallery: delete images with their files, favourites, boards, tags, zip export."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower

from gallery.models import Board, BoardImage, Favourite, Image, Tag

TAG_RE = re.compile(r"^[\w][\w\- ]{0,39}$")


class GalleryError(ValueError):
    """A request the gallery refuses; the message is for the user."""


def image_delete(*, image: Image) -> None:
    """Delete the row, then its files once the deletion is committed."""
    names = [image.file, image.thumbnail]
    with transaction.atomic():
        image.delete()
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names])


def can_delete(user: AbstractBaseUser, image: Image) -> bool:
    return image.owner_id == user.pk or user.is_staff


@transaction.atomic
def favourite_toggle(*, user: AbstractBaseUser, image: Image) -> bool:
    """Flip the user's favourite mark on an image; returns whether it is now a favourite."""
    deleted, _ = Favourite.objects.filter(user=user, image=image).delete()
    if deleted:
        Image.objects.filter(pk=image.pk).update(favourite_count=F("favourite_count") - 1)
        return False
    Favourite.objects.create(user=user, image=image)
    Image.objects.filter(pk=image.pk).update(favourite_count=F("favourite_count") + 1)
    return True


def board_create(*, name: str, user: AbstractBaseUser) -> Board:
    name = " ".join(name.split())[:80]
    if not name:
        raise GalleryError("Give the board a name.")
    if Board.objects.annotate(lower=Lower("name")).filter(lower=name.lower()).exists():
        raise GalleryError(f"There is already a board called “{name}”. Add to it, or pick another name.")
    try:
        with transaction.atomic():
            return Board.objects.create(name=name, created_by=user)
    except IntegrityError:  # created by someone else a moment ago
        raise GalleryError(f"There is already a board called “{name}”.") from None


def board_add(*, board: Board, images: Iterable[Image], user: AbstractBaseUser) -> int:
    """Add images to a board (ones already on it are skipped); returns how many were added."""
    present = set(BoardImage.objects.filter(board=board).values_list("image_id", flat=True))
    rows = [BoardImage(board=board, image=image, added_by=user) for image in images if image.pk not in present]
    BoardImage.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def board_remove(*, board: Board, image: Image) -> None:
    BoardImage.objects.filter(board=board, image=image).delete()


def tag_name(raw: str) -> str:
    name = " ".join(raw.strip().lower().split())
    if not TAG_RE.match(name):
        raise GalleryError("A tag is 1–40 letters, digits, spaces or dashes, such as “concept art”.")
    return name


def tag_add(*, images: Iterable[Image], raw: str) -> Tag:
    tag, _ = Tag.objects.get_or_create(name=tag_name(raw))
    for image in images:
        image.tags.add(tag)
    return tag


def tag_remove(*, image: Image, name: str) -> None:
    image.tags.remove(*Tag.objects.filter(name=name))


class _Chunks:
    """A write-only file whose writes are collected, for zipfile to stream into."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        parts, self.parts = self.parts, []
        yield from parts


def zip_stream(images: Iterable[Image], chunk_size: int = 256 * 1024) -> Iterator[bytes]:
    """A zip of the images' original files, produced piece by piece: memory stays flat however
    many images there are (stored, not compressed: PNG and WebP are compressed already)."""
    out = _Chunks()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            with (
                default_storage.open(image.file) as source,
                archive.open(image.filename, "w", force_zip64=True) as dest,
            ):
                while chunk := source.read(chunk_size):
                    dest.write(chunk)
                    yield from out.drain()
            yield from out.drain()
    yield from out.drain()


def bulk_delete(*, user: AbstractBaseUser, images: Iterable[Image]) -> tuple[int, int]:
    """Delete the images the user may delete; returns (deleted, kept because they are others')."""
    deleted = kept = 0
    for image in images:
        if can_delete(user, image):
            image_delete(image=image)
            deleted += 1
        else:
            kept += 1
    return deleted, kept
