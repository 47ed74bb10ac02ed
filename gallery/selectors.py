"""Reads for the gallery: one page of images for a viewer, with keyset pagination."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from gallery.models import Favourite, Image

PAGE_SIZE = 48


@dataclass(frozen=True)
class Filters:
    mine: bool = False
    model: str = ""
    favourites: bool = False
    q: str = ""


@dataclass(frozen=True)
class Page:
    images: list[Image]
    next_cursor: str | None


def encode_cursor(image: Image) -> str:
    return base64.urlsafe_b64encode(f"{image.created_at.isoformat()}|{image.pk}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (created_at, id) a page continues after, or None for a malformed cursor."""
    try:
        created, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def images_for(viewer: AbstractBaseUser, filters: Filters) -> QuerySet[Image]:
    images = Image.objects.select_related("job", "owner").annotate(
        is_favourite=Exists(Favourite.objects.filter(image=OuterRef("pk"), user=viewer))
    )
    if filters.mine:
        images = images.filter(owner=viewer)
    if filters.model:
        images = images.filter(job__model_id=filters.model)
    if filters.favourites:
        images = images.filter(is_favourite=True)
    if filters.q:
        images = images.filter(Q(job__prompt__icontains=filters.q) | Q(revised_prompt__icontains=filters.q))
    return images


def image_page(*, viewer: AbstractBaseUser, filters: Filters, cursor: str = "", size: int = PAGE_SIZE) -> Page:
    """Newest first; a page after `cursor` costs the same whatever its depth (no OFFSET)."""
    images = images_for(viewer, filters).order_by("-created_at", "-id")
    after = decode_cursor(cursor) if cursor else None
    if after:
        created, pk = after
        # The leading `created_at <=` lets SQLite and PostgreSQL range-scan the (created_at, id)
        # index; the OR alone makes them walk it from the top.
        images = images.filter(Q(created_at__lte=created) & (Q(created_at__lt=created) | Q(id__lt=pk)))
    rows = list(images[: size + 1])
    next_cursor = encode_cursor(rows[size - 1]) if len(rows) > size else None
    return Page(images=rows[:size], next_cursor=next_cursor)
