"""Settings carried inside image files: what Atelier writes for other tools, and what it reads back
from its own files, AUTOMATIC1111's, ComfyUI's and InvokeAI's.

Kept free of imports from the rest of Atelier, so `imaging` can use the writer without a cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Found:
    """The settings one file carries, in one vocabulary whatever tool wrote them."""

    source: str  # "Atelier", "AUTOMATIC1111", "ComfyUI", "InvokeAI"
    prompt: str = ""
    negative_prompt: str = ""
    model: str = ""  # as the file names it: a catalog id in Atelier's own files, a checkpoint elsewhere
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    cfg_scale: float | None = None
    sampler: str = ""  # Stability's name (K_DPMPP_2M) where one matches, else as the file names it
    quality: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # Atelier model options, by name
    # Settings the file holds that no Atelier field takes (scheduler, LoRAs...), as (name, value).
    others: tuple[tuple[str, str], ...] = ()


# JSON from a file anyone could have written: a value is used only when it has the right type.
def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""
