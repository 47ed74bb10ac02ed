"""Provider registry: maps a catalog provider id to the module that talks to it."""

from __future__ import annotations

from studio.providers import midjourney, offline, openai, replicate, stability
from studio.providers.base import ImageProvider, Progress, ProviderResult
from studio.specs import ImageRequest

_IMPLEMENTED: dict[str, ImageProvider] = {
    "offline": offline,
    "openai": openai,
    "replicate": replicate,
    "stability": stability,
    "midjourney": midjourney,
}


def is_implemented(provider_id: str) -> bool:
    return provider_id in _IMPLEMENTED


def get_provider(provider_id: str) -> ImageProvider:
    return _IMPLEMENTED[provider_id]


def can_resume(provider_id: str) -> bool:
    """Whether the provider's paid work is a job of its own (Replicate predictions, Stability's
    creative upscale, midjourney-proxy tasks) whose result can be collected by another worker."""
    return hasattr(_IMPLEMENTED.get(provider_id), "resume")


def resume(provider_id: str, request: ImageRequest, provider_job_id: str, progress: Progress) -> ProviderResult:
    """Collect the result of a provider-side job bought earlier: polls only, never a purchase."""
    return _IMPLEMENTED[provider_id].resume(request, provider_job_id, progress)
