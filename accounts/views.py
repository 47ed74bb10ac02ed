"""Account pages: API tokens, and the staff's list of locked-out log-ins."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import lockouts
from accounts.forms import TokenForm
from accounts.models import ApiToken, hash_token


def _tokens_page(request: HttpRequest, **context: Any) -> HttpResponse:
    return render(
        request, "accounts/tokens.html", {"tokens": request.user.api_tokens.all(), "form": TokenForm(), **context}
    )


@require_GET
def tokens(request: HttpRequest) -> HttpResponse:
    return _tokens_page(request)


@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, next(iter(form.errors.values()))[0])
        return redirect("accounts:tokens")
    raw = ApiToken.new_raw()
    token = ApiToken.objects.create(
        user=request.user,
        name=form.cleaned_data["name"],
        scope=form.cleaned_data["scope"],
        digest=hash_token(raw),
        hint=raw[:8],
    )
    # Shown once on the next page, then only its hash remains.
    return _tokens_page(request, new_token=raw, new_token_scope=token.get_scope_display())


@require_POST
def token_delete(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(ApiToken, pk=pk, user=request.user).delete()
    messages.success(request, "Token revoked.")
    return redirect("accounts:tokens")


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can see and lift log-in lock-outs.")
        return view(request, *args, **kwargs)

    return wrapper


@staff_required
@require_GET
def lockout_list(request: HttpRequest) -> HttpResponse:
    context = {"lockouts": lockouts.current(), "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "accounts/lockouts.html", context)


@staff_required
@require_POST
def lockout_unlock(request: HttpRequest) -> HttpResponse:
    username = lockouts.username_of(request)
    ip_address = request.POST.get("ip_address", "") or None
    if ip_address and not lockouts.is_ip_address(ip_address):
        messages.error(request, "That is not an IP address.")
    elif lockouts.unlock(username=username, ip_address=ip_address):
        where = f" from {ip_address}" if ip_address else ""
        messages.success(request, f"“{username}” can log in{where} again.")
    else:
        messages.info(request, f"“{username}” was not locked out.")
    return redirect("accounts:lockouts")
