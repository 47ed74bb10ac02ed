"""Authenticate JSON API calls by `Authorization: Bearer <token>`."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import ApiToken, hash_token


class BearerTokenMiddleware:
    """Sets request.user from a valid bearer token; such requests carry no cookies, so no CSRF."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            request.bearer_token_given = True  # type: ignore[attr-defined]
            token = (
                ApiToken.objects.select_related("user")
                .filter(digest=hash_token(header.removeprefix("Bearer ").strip()), user__is_active=True)
                .first()
            )
            if token:
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
                request.user = token.user
                request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)
