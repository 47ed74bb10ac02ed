"""The providers page: which providers are configured (by variable name, never value), checked live."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from studio import catalog, providers


@require_GET
def providers_page(request: HttpRequest) -> HttpResponse:
    """Which providers are configured (by variable name, never value), checked on load."""
    rows = []
    for provider in catalog.PROVIDERS.values():
        configured = settings.PROVIDER_SETTINGS.get(provider.id, {})
        missing = [env for key, env in provider.required if not configured.get(key)]
        models = [m for m in catalog.MODELS.values() if m.provider == provider.id]
        rows.append(
            {"provider": provider, "missing": missing, "models": models, "base_url": configured.get("base_url", "")}
        )
    return render(request, "studio/providers.html", {"rows": rows})


@require_GET
def provider_check(request: HttpRequest, provider_id: str) -> HttpResponse:
    if provider_id not in catalog.PROVIDERS:
        raise Http404
    result = providers.get_provider(provider_id).check()
    return render(request, "studio/providers.html#check", {"check": result})
