"""Writes for the gallery: delete images with their files, toggle favourites."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import transaction

from gallery.models import Favourite, Image


def image_delete(*, image: Image) -> None:
    """Delete the row, then its files once the deletion is committed."""
    names = [image.file, image.thumbnail]
    with transaction.atomic():
        image.delete()
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names])


def favourite_toggle(*, user: AbstractBaseUser, image: Image) -> bool:
    """Flip the user's favourite mark on an image; returns whether it is now a favourite."""
    deleted, _ = Favourite.objects.filter(user=user, image=image).delete()
    if deleted:
        return False
    Favourite.objects.get_or_create(user=user, image=image)
    return True
