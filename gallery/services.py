"""Writes for the gallery: delete images with their files, favourites, boards, tags, zip export,
and who may take a board or tag off an image or delete a board."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower

from gallery.models import Board, BoardImage, Favourite, Image, ImageTag, Tag
from studio import media

TAG_RE = re.compile(r"^[\w][\w\- ]{0,39}$")


class GalleryError(ValueError):
    """A request the gallery refuses; the message is for the user."""


def image_delete(*, image: Image) -> None:
    """Delete the row, then its files once the deletion is committed (a file storage fails to
    delete is left to the orphan sweep)."""
    names = [image.file, image.thumbnail]
    with transaction.atomic():
        image.delete()
        transaction.on_commit(lambda: media.discard(names))


class NotAllowed(GalleryError):
    """The user may not do this to someone else's board, tag or image; the message says who may."""


def can_delete(user: AbstractBaseUser, image: Image) -> bool:
    return image.owner_id == user.pk or user.is_staff


def can_take_off(user: AbstractBaseUser, image: Image, *, added_by_id: int | None) -> bool:
    """Who may take a board or tag off an image: whoever put it there, the image's owner, staff."""
    return user.is_staff or (user.pk is not None and user.pk in (added_by_id, image.owner_id))


def can_delete_board(user: AbstractBaseUser, board: Board) -> bool:
    return user.is_staff or board.created_by_id == user.pk


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
    # Refused rather than stripped: nobody types them, and PostgreSQL cannot store NUL in text.
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise GalleryError("A board name cannot contain control characters.")
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


def board_remove(*, board: Board, image: Image, user: AbstractBaseUser) -> None:
    """Take an image off a board (nothing to do if it is not on it)."""
    row = BoardImage.objects.filter(board=board, image=image).first()
    if row is None:
        return
    if not can_take_off(user, image, added_by_id=row.added_by_id):
        raise NotAllowed(
            f"Only whoever added this image to “{board.name}”, the image's owner or staff can take it off."
        )
    row.delete()


def board_delete(*, board: Board, user: AbstractBaseUser) -> int:
    """Delete a board; its images stay in the gallery. Returns how many images were on it."""
    if not can_delete_board(user, board):
        raise NotAllowed(f"Only the person who created “{board.name}”, or staff, can delete it.")
    with transaction.atomic():
        count = BoardImage.objects.filter(board=board).count()
        board.delete()
    return count


def tag_name(raw: str) -> str:
    name = " ".join(raw.strip().lower().split())
    if not TAG_RE.match(name):
        raise GalleryError("A tag is 1–40 letters, digits, spaces or dashes, such as “concept art”.")
    return name


def tag_add(*, images: Iterable[Image], raw: str, user: AbstractBaseUser) -> Tag:
    """Tag images (ones that have the tag already keep it as it was)."""
    tag, _ = Tag.objects.get_or_create(name=tag_name(raw))
    rows = [ImageTag(image=image, tag=tag, added_by=user) for image in images]
    ImageTag.objects.bulk_create(rows, ignore_conflicts=True)
    return tag


def tag_remove(*, image: Image, name: str, user: AbstractBaseUser) -> None:
    """Take a tag off an image (nothing to do if it does not have it)."""
    try:
        name = tag_name(name)
    except GalleryError:
        return  # not a name any tag can have (NUL, too long...): so not on this image
    row = ImageTag.objects.filter(image=image, tag__name=name).first()
    if row is None:
        return
    if not can_take_off(user, image, added_by_id=row.added_by_id):
        raise NotAllowed(f"Only whoever tagged this image “{name}”, the image's owner or staff can remove the tag.")
    row.delete()


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
