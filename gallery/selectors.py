"""Reads for the gallery: one page of images for a viewer, filtered, sorted, keyset-paginated."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.http import urlencode

from gallery import services
from gallery.models import Board, BoardImage, Favourite, Image, ImageTag, Tag
from studio import catalog, comparisons, params

PAGE_SIZE = 48
MAX_CURSOR_LENGTH = 200  # a real one is under 100 characters
MAX_KEY = 2**63 - 1  # the largest integer SQLite and PostgreSQL's bigint hold
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

    def query(self) -> str:
        """The filters as the grid's query string (what a saved search keeps); filters_from reads it."""
        values = {
            "q": self.q,
            "scope": "mine" if self.mine else "",
            "user": self.user,
            "model": self.model,
            "operation": self.operation,
            "board": self.board or "",
            "tag": self.tag,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "sort": self.sort if self.sort != "newest" else "",
            "favourites": "1" if self.favourites else "",
        }
        return urlencode({key: value for key, value in values.items() if value})


def _day(raw: str, label: str, notices: list[str]) -> date | None:
    if not raw:
        return None
    day = params.day(raw)
    if day is None:
        first, last = params.FIRST_DAY.year, params.LAST_DAY.year
        notices.append(f"Ignored the {label} date “{raw[:40]}”: use YYYY-MM-DD, from {first} to {last}.")
    return day


def filters_from(query: Mapping[str, str], notices: list[str]) -> Filters:
    """The grid's filters from a query string's values, each checked; what is ignored is added to
    `notices` for the page to show."""
    get = query.get
    return Filters(
        mine=get("scope") == "mine",
        model=get("model", "") if get("model") in catalog.MODELS else "",
        favourites=get("favourites") == "1",
        q=params.text(get("q", ""), 200),
        user=params.text(get("user", ""), 150),
        operation=get("operation", "") if get("operation", "") in {op.value for op in catalog.Operation} else "",
        board=params.object_id(get("board")),
        tag=params.text(get("tag", ""), 40),
        date_from=_day(get("from", ""), "from", notices),
        date_to=_day(get("to", ""), "to", notices),
        sort=get("sort") if get("sort") in SORTS else "newest",
    )


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


def _key_value(name: str, value: object) -> datetime | int:
    """One value of a cursor, as strictly as the database will take it (ValueError otherwise)."""
    if name == "created_at":
        if not isinstance(value, str):
            raise ValueError("not a timestamp")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        # Near year 1 or 9999 an offset overflows (OverflowError); the database would fail later.
        return moment.astimezone(UTC)
    # Counts and ids: whole numbers a 64-bit column holds; JSON's 1e999, NaN and true are not.
    if type(value) is not int or not 0 <= value <= MAX_KEY:
        raise ValueError("not a row key")
    return value


def decode_cursor(cursor: str, sort: str = "newest") -> list | None:
    """The sort-key values a page continues after, or None for a malformed or tampered cursor."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        names = [name.lstrip("-") for name in SORTS[sort]]
        if not isinstance(values, list) or len(values) != len(names):
            return None
        return [_key_value(n, v) for n, v in zip(names, values, strict=True)]
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError):
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
        # `id + 0` keeps SQLite from driving the query from the (possibly huge) match list: it walks
        # the sort index instead and stops at a page's worth of matches.
        return images.alias(id_plus_0=F("id") + 0).filter(
            id_plus_0__in=RawSQL("SELECT rowid FROM gallery_image_fts WHERE gallery_image_fts MATCH %s", [query])
        )
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        words = re.findall(r"\w+", text)
        if not words:
            return images
        # Same meaning as on SQLite: every word, the last as a prefix. Words are \w+ only, so
        # nothing the user types can be tsquery syntax.
        query = SearchQuery(" & ".join([*words[:-1], f"{words[-1]}:*"]), search_type="raw", config="english")
        vector = SearchVector("job__prompt", "revised_prompt", config="english")
        return images.annotate(search=vector).filter(search=query)
    return images.filter(Q(job__prompt__icontains=text) | Q(revised_prompt__icontains=text))


def _is_favourite(viewer: AbstractBaseUser) -> Exists:
    return Exists(Favourite.objects.filter(image=OuterRef("pk"), user=viewer))


def images_for(viewer: AbstractBaseUser, filters: Filters) -> QuerySet[Image]:
    """The images matching the filters, with nothing joined in: cheap to sort and cut. A blind
    comparison's images join the gallery for a viewer once they have voted on it."""
    images = Image.objects.filter(comparisons.visible_to(viewer, "job"))
    if filters.mine:
        images = images.filter(owner=viewer)
    if filters.user:
        images = images.filter(owner__username=filters.user)
    if filters.model:
        images = images.filter(job__model_id=filters.model)
    if filters.operation:
        images = images.filter(job__operation=filters.operation)
    if filters.favourites:
        images = images.filter(_is_favourite(viewer))
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
    matching = images_for(viewer, filters).order_by(*fields)
    after = decode_cursor(cursor, sort) if cursor else None
    if after:
        matching = matching.filter(_after(fields, after))
    # Pick the page's ids first, then join jobs, owners and favourites for those rows only: when a
    # search or board matches thousands of images, none of them but the page's pay for the joins.
    # Still one SQL statement, the page ids being a subquery.
    page_ids = matching.values("pk")[: size + 1]
    rows = list(
        Image.objects.filter(pk__in=page_ids)
        .select_related("job", "owner")
        .annotate(is_favourite=_is_favourite(viewer))
        .order_by(*fields)
    )
    next_cursor = encode_cursor(rows[size - 1], sort) if len(rows) > size else None
    return Page(images=rows[:size], next_cursor=next_cursor)


@dataclass(frozen=True)
class OnImage:
    """A board or tag on one image, and whether the viewer may take it off."""

    label: Board | Tag
    removable: bool


def boards_on(*, image: Image, viewer: AbstractBaseUser) -> list[OnImage]:
    rows = BoardImage.objects.filter(image=image).select_related("board").order_by("board__name")
    return [OnImage(row.board, services.can_take_off(viewer, image, added_by_id=row.added_by_id)) for row in rows]


def tags_on(*, image: Image, viewer: AbstractBaseUser) -> list[OnImage]:
    rows = ImageTag.objects.filter(image=image).select_related("tag").order_by("tag__name")
    return [OnImage(row.tag, services.can_take_off(viewer, image, added_by_id=row.added_by_id)) for row in rows]


@dataclass(frozen=True)
class BoardSummary:
    board: Board
    count: int
    deletable: bool  # by this viewer


def board_list(*, viewer: AbstractBaseUser) -> list[BoardSummary]:
    boards = Board.objects.annotate(count=Count("boardimage")).select_related("created_by")
    return [BoardSummary(board, board.count, services.can_delete_board(viewer, board)) for board in boards]


def filter_menus() -> tuple[list[Board], list[Tag]]:
    """Every board and tag, by name, for the gallery's filter menus, in one query (a UNION ALL of
    both tables): the page's query count stays fixed with the saved searches beside it. Each
    column is an annotation, in the same order on both sides, so the UNION lines them up; the models'
    own ordering is cleared on each side (SQLite refuses ORDER BY inside a compound SELECT)."""
    boards = (
        Board.objects.annotate(kind=Value("board"), key=F("id"), label=F("name"), creator=F("created_by_id"))
        .values_list("kind", "key", "label", "creator")
        .order_by()
    )
    tags = (
        Tag.objects.annotate(
            kind=Value("tag"), key=F("id"), label=F("name"), creator=Value(None, output_field=IntegerField())
        )
        .values_list("kind", "key", "label", "creator")
        .order_by()
    )
    board_list: list[Board] = []
    tag_list: list[Tag] = []
    for kind, key, label, creator in boards.union(tags, all=True).order_by("label"):
        if kind == "board":
            board_list.append(Board(id=key, name=label, created_by_id=creator))
        else:
            tag_list.append(Tag(id=key, name=label))
    return board_list, tag_list
