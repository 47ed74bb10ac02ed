"""Saved searches: a gallery search and its filters kept under a name, private or shared with the
team, and used again from the gallery or the API (`?saved=<id>`)."""

from __future__ import annotations

import unicodedata

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.http import QueryDict

from gallery import selectors
from gallery.models import SavedSearch
from gallery.services import GalleryError

MAX_NAME = SavedSearch._meta.get_field("name").max_length


def visible_to(viewer: AbstractBaseUser) -> QuerySet[SavedSearch]:
    """The viewer's own searches and those others shared with the team."""
    return SavedSearch.objects.filter(Q(owner=viewer) | Q(shared=True)).select_related("owner")


def get_for_user(viewer: AbstractBaseUser, pk: int | None) -> SavedSearch | None:
    """A search the viewer may use; None for another's private one, as for one that never existed."""
    return visible_to(viewer).filter(pk=pk).first() if pk else None


def filters(search: SavedSearch) -> selectors.Filters:
    return selectors.filters_from(QueryDict(search.query), [])


def _clean_name(raw: str) -> str:
    if len(raw) > MAX_NAME * 4:  # not worth normalising
        raise GalleryError(f"A saved search's name is at most {MAX_NAME} characters.")
    name = " ".join(raw.split())
    if not name:
        raise GalleryError("Give the search a name.")
    # Refused rather than stripped: nobody types them, and PostgreSQL cannot store NUL in text.
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise GalleryError("A saved search's name cannot contain control characters.")
    if len(name) > MAX_NAME:
        raise GalleryError(f"A saved search's name is at most {MAX_NAME} characters; this one has {len(name)}.")
    return name


def create(*, owner: AbstractBaseUser, name: str, filters: selectors.Filters, shared: bool) -> SavedSearch:
    """Keep the filters under a name (unique among the owner's searches, whatever the case)."""
    name = _clean_name(name)
    if not filters.active and filters.sort == "newest":
        raise GalleryError("There is nothing to save: search or set a filter first.")
    if SavedSearch.objects.annotate(lower=Lower("name")).filter(owner=owner, lower=name.lower()).exists():
        raise GalleryError(f"You already have a saved search called “{name}”. Remove it, or pick another name.")
    try:
        with transaction.atomic():
            return SavedSearch.objects.create(owner=owner, name=name, query=filters.query(), shared=shared)
    except IntegrityError:  # saved twice at once
        raise GalleryError(f"You already have a saved search called “{name}”.") from None


def delete(*, owner: AbstractBaseUser, pk: int | None) -> SavedSearch | None:
    """Remove one of the owner's searches; None when they have no such search (another's included)."""
    search = SavedSearch.objects.filter(owner=owner, pk=pk).first() if pk else None
    if search is not None:
        search.delete()
    return search
