"""Who calls the compatible APIs: an Atelier API token, sent the way each API's clients send keys."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.middleware import SAFE_METHODS, bearer_token, find_token
from accounts.models import ApiToken


class Refused(Exception):
    """No usable token (401) or one whose scope does not allow this (403); `code` names which."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def basic_password(request: HttpRequest) -> str | None:
    """The password of an `Authorization: Basic …` header (AUTOMATIC1111's --api-auth), or None."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


def authenticate(request: HttpRequest, *, basic: bool) -> ApiToken:
    """The token the request carries, allowed to do what it asks: read-only tokens may only read.
    A session cookie is never enough: these views are CSRF-exempt, so a token is the only login."""
    raw = bearer_token(request)
    if raw is None and basic:
        raw = basic_password(request)
    if raw is None:
        how = "the API key (Authorization: Bearer <token>)" + (" or the HTTP basic password" if basic else "")
        message = f"Send an Atelier API token as {how}. Create one under Account → API tokens."
        raise Refused(401, message, "missing_api_key")
    token = find_token(raw)
    if token is None:
        raise Refused(401, "That API token is not valid (revoked or mistyped).", "invalid_api_key")
    if token.read_only and request.method not in SAFE_METHODS:
        raise Refused(
            403,
            f"The API token “{token.name}” is read-only: it may list models, not make images. "
            "Create a read-write token under Account → API tokens.",
            "read_only_token",
        )
    return token


def token_view(refused: Callable[[Refused], HttpResponse], *, basic: bool = False) -> Callable:
    """Decorate a view of a compatible API: the token's user becomes `request.user`, and a refusal
    is answered by `refused` in that API's own error shape."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_not_required
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                token = authenticate(request, basic=basic)
            except Refused as exc:
                return refused(exc)
            request.user = token.user
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
