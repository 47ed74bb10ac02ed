"""Images kept in the team gallery, and who marked them favourite."""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import models
from django.urls import reverse

_PK = 987654321


@functools.cache
def _url_pattern(name: str) -> str:
    """A route's URL with a slot for the id: reversing once instead of once per tile (grid pages
    render hundreds of links, and reverse() was 40% of their time)."""
    return reverse(name, args=[_PK]).replace(str(_PK), "{}")


def url_patterns() -> dict[str, str]:
    """Per-image URLs with `{}` for the id, for scripts that build them (the gallery lightbox)."""
    return {
        "detail": _url_pattern("gallery:detail"),
        "file": _url_pattern("gallery:file"),
        "download": _url_pattern("gallery:download"),
        "favourite": _url_pattern("gallery:favourite"),
        "editor": _url_pattern("studio:editor_image"),
    }


class Image(models.Model):
    job = models.ForeignKey("studio.Job", on_delete=models.CASCADE, related_name="images")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField(default=0, help_text="Position within its job.")
    # Names relative to the default storage; the files are deleted with the row (gallery.services).
    file = models.CharField(max_length=255)
    thumbnail = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    revised_prompt = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    # How many people marked it favourite; kept by gallery.services for the "most favourited" sort.
    favourite_count = models.PositiveIntegerField(default=0)
    tags = models.ManyToManyField("Tag", through="ImageTag", blank=True, related_name="images")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="image_newest"),
            models.Index(fields=["owner", "-created_at", "-id"], name="image_owner_newest"),
            models.Index(fields=["-favourite_count", "-created_at", "-id"], name="image_most_favourited"),
        ]

    def __str__(self) -> str:
        return f"Image {self.pk} of job {self.job_id}"

    @property
    def detail_url(self) -> str:
        return _url_pattern("gallery:detail").format(self.pk)

    @property
    def thumbnail_url(self) -> str:
        return _url_pattern("gallery:thumbnail").format(self.pk)

    @property
    def comparison_url(self) -> str:
        return _url_pattern("studio:comparison").format(self.job.comparison_id)

    @property
    def filename(self) -> str:
        return f"atelier-{self.pk}.{self.file.rsplit('.', 1)[-1]}"


class Favourite(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "image"], name="one_favourite_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.image_id}"


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImageTag(models.Model):
    """A tag on an image, and who put it there: they, the image's owner or staff may take it off."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table Django made for the plain many-to-many this replaced: its rows are kept.
        db_table = "gallery_image_tags"
        constraints = [models.UniqueConstraint(fields=["image", "tag"], name="tag_once_per_image")]

    def __str__(self) -> str:
        return f"tag {self.tag_id} on image {self.image_id}"


class Board(models.Model):
    """A shared collection of images that anyone on the team can add to; its creator or staff
    may delete it (the images stay)."""

    name = models.CharField(max_length=80)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    images = models.ManyToManyField(Image, through="BoardImage", related_name="boards")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(models.functions.Lower("name"), name="board_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class BoardImage(models.Model):
    """An image on a board, and who put it there: they, the image's owner or staff may take it off."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE)
    image = models.ForeignKey(Image, on_delete=models.CASCADE)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "image"], name="image_once_per_board")]

    def __str__(self) -> str:
        return f"image {self.image_id} on board {self.board_id}"


class SavedSearch(models.Model):
    """A gallery search and its filters kept under a name: its owner's alone, or shared with the
    team. Only its owner may remove it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches")
    name = models.CharField(max_length=80)
    # The filters as a query string, as gallery.selectors.Filters.query() writes them.
    query = models.TextField()
    shared = models.BooleanField(default=False, help_text="Listed for the whole team, not only its owner.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("owner", models.functions.Lower("name"), name="saved_search_name_unique_per_owner")
        ]
        indexes = [models.Index(fields=["shared"], name="saved_search_shared")]

    def __str__(self) -> str:
        return self.name
