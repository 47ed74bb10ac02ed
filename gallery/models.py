"""Images kept in the team gallery, and who marked them favourite."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="image_newest"),
            models.Index(fields=["owner", "-created_at", "-id"], name="image_owner_newest"),
        ]

    def __str__(self) -> str:
        return f"Image {self.pk} of job {self.job_id}"

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
