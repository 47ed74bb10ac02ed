"""Provider registry: maps a catalog provider id to the module that talks to it."""

from __future__ import annotations

from studio.providers import midjourney, offline, openai, replicate, stability
from studio.providers.base import ImageProvider

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
