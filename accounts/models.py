"""API tokens: a user's keys for the JSON API. Only a hash of each token is stored."""

import hashlib
import secrets

from django.conf import settings
from django.db import models

TOKEN_PREFIX = "atl_"


def hash_token(raw: str) -> str:
    # surrogatepass: a header that cannot be UTF-8 is a wrong token, not an error.
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class ApiToken(models.Model):
    class Scope(models.TextChoices):
        READ = "read", "Read only"
        READ_WRITE = "read_write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text="The first characters, to recognise a token.")
    scope = models.CharField(
        max_length=10,
        choices=Scope.choices,
        default=Scope.READ_WRITE,
        help_text="Read-only tokens may list and download; only read-write tokens may create jobs.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def read_only(self) -> bool:
        return self.scope == self.Scope.READ

    @staticmethod
    def new_raw() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)
