"""Account pages: API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import ApiToken, hash_token


def tokens(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/tokens.html", {"tokens": request.user.api_tokens.all()})


@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:100]
    if not name:
        messages.error(request, "Give the token a name, such as the script that will use it.")
        return redirect("accounts:tokens")
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=request.user, name=name, digest=hash_token(raw), hint=raw[:8])
    # Shown once on the next page, then only its hash remains.
    return render(request, "accounts/tokens.html", {"tokens": request.user.api_tokens.all(), "new_token": raw})


@require_POST
def token_delete(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(ApiToken, pk=pk, user=request.user).delete()
    messages.success(request, "Token revoked.")
    return redirect("accounts:tokens")
