"""Authenticate the JSON API (and image file downloads) by `Authorization: Bearer <token>`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import ResolverMatch
from django.utils import timezone

from accounts.models import ApiToken, hash_token

# Where a token is a login: the API, and the image files its answers link to (`url`,
# `thumbnail_url`). Anywhere else a bearer header is ignored: a token cannot open pages, use
# the session's forms or mint new tokens.
TOKEN_NAMESPACES = {"api"}
TOKEN_VIEWS = {"gallery:file", "gallery:thumbnail"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def accepts_tokens(match: ResolverMatch | None) -> bool:
    return match is not None and (match.namespace in TOKEN_NAMESPACES or match.view_name in TOKEN_VIEWS)


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer …` header (scheme in any case), or None."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else None


def find_token(raw: str) -> ApiToken | None:
    """The active user's token with this text, marked as used now; None if there is none."""
    token = (
        ApiToken.objects.select_related("user").filter(digest=hash_token(raw), user__is_active=True).first()
        if raw
        else None
    )
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def _error(status: int, message: str, kind: str) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "kind": kind}}, status=status)


class BearerTokenMiddleware:
    """On token paths, a bearer header decides who the user is, whatever session cookie comes
    with it: a valid token is its user, an invalid or revoked one is 401, and a read-only token
    is 403 on any unsafe method. Runs as a view middleware, where the resolved URL is known."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        raw = bearer_token(request)
        if raw is None or not accepts_tokens(request.resolver_match):
            return None
        request.bearer_token_given = True  # type: ignore[attr-defined]
        token = find_token(raw)
        if token is None:
            request.user = AnonymousUser()
            return _error(401, "That API token is not valid (revoked or mistyped).", "auth")
        if token.read_only and request.method not in SAFE_METHODS:
            return _error(
                403,
                f"The API token “{token.name}” is read-only: it may read and download, not {request.method}. "
                "Create a read-write token under Account → API tokens to do this.",
                "read_only_token",
            )
        # API views are csrf_exempt (token_required); the file views take GET only.
        request.user = token.user
        request.api_token = token  # type: ignore[attr-defined]
        return None
