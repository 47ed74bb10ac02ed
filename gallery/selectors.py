"""Reads for the gallery: one page of images for a viewer, filtered, sorted, keyset-paginated."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from gallery.models import Favourite, Image

PAGE_SIZE = 48
# Each sort is a keyset: the fields, all descending or all ascending, that a cursor continues after.
SORTS: dict[str, tuple[str, ...]] = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "favourites": ("-favourite_count", "-created_at", "-id"),
}


@dataclass(frozen=True)
class Filters:
    mine: bool = False
    model: str = ""
    favourites: bool = False
    q: str = ""
    user: str = ""
    operation: str = ""
    board: int | None = None
    tag: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "newest"

    @property
    def active(self) -> bool:
        return any([self.mine, self.model, self.favourites, self.q, self.user, self.operation, self.board,
                    self.tag, self.date_from, self.date_to])  # fmt: skip


@dataclass(frozen=True)
class Page:
    images: list[Image]
    next_cursor: str | None


def _key(image: Image, sort: str) -> list:
    return [
        getattr(image, name.lstrip("-")).isoformat()
        if name.lstrip("-") == "created_at"
        else getattr(image, name.lstrip("-"))
        for name in SORTS[sort]
    ]


def encode_cursor(image: Image, sort: str = "newest") -> str:
    return base64.urlsafe_b64encode(json.dumps(_key(image, sort)).encode()).decode()


def decode_cursor(cursor: str, sort: str = "newest") -> list | None:
    """The sort-key values a page continues after, or None for a malformed cursor."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        names = [name.lstrip("-") for name in SORTS[sort]]
        if not isinstance(values, list) or len(values) != len(names):
            return None
        return [datetime.fromisoformat(v) if n == "created_at" else int(v) for n, v in zip(names, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None


def _after(fields: tuple[str, ...], values: list) -> Q:
    """Rows strictly after `values` in the keyset order, with the first field as a range bound so
    the database range-scans the index instead of walking it from the top."""
    descending = fields[0].startswith("-")
    names = [f.lstrip("-") for f in fields]
    past, bound = ("lt", "lte") if descending else ("gt", "gte")
    strictly = Q()
    for i, name in enumerate(names):
        equal_before = Q(**{n: v for n, v in zip(names[:i], values[:i], strict=True)})
        strictly |= equal_before & Q(**{f"{name}__{past}": values[i]})
    return Q(**{f"{names[0]}__{bound}": values[0]}) & strictly


def fts_query(text: str) -> str:
    """User words as an FTS5 query: every word must match, the last one as a prefix."""
    words = re.findall(r"\w+", text)
    quoted = [f'"{w}"' for w in words]
    if quoted:
        quoted[-1] += "*"
    return " ".join(quoted)


def _search(images: QuerySet[Image], text: str) -> QuerySet[Image]:
    if connection.vendor == "sqlite":
        query = fts_query(text)
        if not query:
            return images
        return images.filter(
            id__in=RawSQL("SELECT rowid FROM gallery_image_fts WHERE gallery_image_fts MATCH %s", [query])
        )
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        vector = SearchVector("job__prompt", config="english")
        return images.annotate(search=vector).filter(
            search=SearchQuery(text, config="english", search_type="websearch")
        )
    return images.filter(Q(job__prompt__icontains=text) | Q(revised_prompt__icontains=text))


def images_for(viewer: AbstractBaseUser, filters: Filters) -> QuerySet[Image]:
    images = Image.objects.select_related("job", "owner").annotate(
        is_favourite=Exists(Favourite.objects.filter(image=OuterRef("pk"), user=viewer))
    )
    if filters.mine:
        images = images.filter(owner=viewer)
    if filters.user:
        images = images.filter(owner__username=filters.user)
    if filters.model:
        images = images.filter(job__model_id=filters.model)
    if filters.operation:
        images = images.filter(job__operation=filters.operation)
    if filters.favourites:
        images = images.filter(is_favourite=True)
    if filters.board:
        images = images.filter(boardimage__board_id=filters.board)
    if filters.tag:
        images = images.filter(tags__name=filters.tag)
    tz = timezone.get_current_timezone()
    if filters.date_from:
        images = images.filter(created_at__gte=datetime.combine(filters.date_from, time.min, tz))
    if filters.date_to:
        images = images.filter(created_at__lt=datetime.combine(filters.date_to + timedelta(days=1), time.min, tz))
    if filters.q:
        images = _search(images, filters.q)
    return images


def image_page(*, viewer: AbstractBaseUser, filters: Filters, cursor: str = "", size: int = PAGE_SIZE) -> Page:
    """One page in the chosen order; a page deep in the gallery costs what the first one does."""
    fields = SORTS.get(filters.sort, SORTS["newest"])
    sort = filters.sort if filters.sort in SORTS else "newest"
    images = images_for(viewer, filters).order_by(*fields)
    after = decode_cursor(cursor, sort) if cursor else None
    if after:
        images = images.filter(_after(fields, after))
    rows = list(images[: size + 1])
    next_cursor = encode_cursor(rows[size - 1], sort) if len(rows) > size else None
    return Page(images=rows[:size], next_cursor=next_cursor)
