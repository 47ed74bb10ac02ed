"""Model option values as people read them: *on* and *off*, not `True` and `False`."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def as_words(value: Any) -> str:
    """True → on, False → off, None or an empty value → not set; anything else as it is."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    if value is None or value == "":
        return "not set"
    return str(value)
