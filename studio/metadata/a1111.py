"""AUTOMATIC1111's `parameters` text ("infotext"): written for every Atelier image, and read back.

The shape is A1111's own (modules/infotext_utils.py): the prompt, a `Negative prompt:` line, then one
line of `Key: value` pairs, a value holding `,`, `:` or a newline being JSON-quoted. A1111's keys come
first in its spelling; Atelier's own follow, so any file Atelier writes restores all its settings.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from studio.metadata import Found, samplers

# A model option A1111 has a key for: written under that key, read back into the generic field.
STEPS_OPTIONS = ("steps", "num_inference_steps")
A1111_OPTIONS = (*STEPS_OPTIONS, "cfg_scale", "sampler")
MAX_TEXT = 100_000  # characters parsed; a prompt is at most 32,000
# The key is bounded so a long line without a colon costs linear time, not quadratic.
PARAM = re.compile(r'\s*(\w[\w \-/]{0,63}):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
SIZE = re.compile(r"(\d{1,6})x(\d{1,6})")
# Keys that describe the file rather than a setting: read without comment.
NOT_SETTINGS = frozenset({"Model hash", "VAE hash", "Version", "Parent image"})


def quote(value: Any) -> str:
    """A1111's quote(): plain unless the text would break the `Key: value, ...` line."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text: str) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def infotext(settings: dict[str, Any]) -> str:
    """The `parameters` text for an Atelier image's settings (studio.jobs builds them)."""
    options = dict(settings["options"]) if isinstance(settings.get("options"), dict) else {}
    steps = next((options.pop(name) for name in STEPS_OPTIONS if name in options), None)
    cfg_scale = options.pop("cfg_scale", None)
    sampler = options.pop("sampler", None)
    pairs: dict[str, Any] = {
        "Steps": steps,
        "Sampler": samplers.a1111_name(sampler) if sampler else None,
        "CFG scale": cfg_scale,
        "Seed": settings.get("seed"),
        "Size": f"{settings.get('width')}x{settings.get('height')}",
        "Model": settings.get("model"),
        "Denoising strength": settings.get("strength"),
        # Atelier's own keys.
        "Quality": settings.get("quality"),
        "Operation": settings.get("operation"),
        "Options": json.dumps(options, sort_keys=True) if options else None,
        "Parent image": settings.get("parent_image"),
        "Version": "Atelier",
    }
    lines = [str(settings.get("prompt") or "")]
    if settings.get("negative_prompt"):
        lines.append(f"Negative prompt: {settings['negative_prompt']}")
    lines.append(", ".join(f"{key}: {quote(value)}" for key, value in pairs.items() if value is not None))
    return "\n".join(lines)


def parse(text: str) -> Found | None:
    """The settings in a `parameters` text, or None when it holds no prompt and no settings."""
    *lines, last = text[:MAX_TEXT].strip().split("\n")
    found_pairs = PARAM.findall(last)
    if len(found_pairs) < 3:  # as A1111: fewer than three pairs is still prompt
        lines.append(last)
        found_pairs = []
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            negative.append(line.removeprefix("Negative prompt:").strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    pairs = {key: unquote(value.strip()) for key, value in found_pairs}
    if not any(prompt) and not pairs:
        return None
    sampler, schedule = samplers.from_a1111(pairs.pop("Sampler", ""))
    others = [("Schedule type", schedule)] if schedule else []
    if pairs.get("Operation") == "generate":  # Atelier's own key: the form makes exactly these
        del pairs["Operation"]
    size = SIZE.fullmatch(pairs.pop("Size", ""))
    fields = {
        "steps": _number(pairs.pop("Steps", None), int),
        "cfg_scale": _number(pairs.pop("CFG scale", None), float),
        "seed": _number(pairs.pop("Seed", None), int),
    }
    options = _options(pairs.pop("Options", ""))
    return Found(
        "AUTOMATIC1111" if pairs.get("Version") != "Atelier" else "Atelier",
        prompt="\n".join(prompt),
        negative_prompt="\n".join(negative),
        model=pairs.pop("Model", ""),
        width=int(size.group(1)) if size else None,
        height=int(size.group(2)) if size else None,
        sampler=sampler,
        quality=pairs.pop("Quality", ""),
        options=options,
        others=(*others, *((k, v) for k, v in pairs.items() if k not in NOT_SETTINGS)),
        **fields,
    )


def _number(raw: str | None, kind: type[int] | type[float]) -> Any:
    try:
        value = kind(raw) if raw is not None else None
    except ValueError:  # also a 5,000-digit "seed"
        return None
    return value if value is None or math.isfinite(value) else None


def _options(raw: str) -> dict[str, Any]:
    try:
        options = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        return {}
    return options if isinstance(options, dict) else {}
