"""InvokeAI's PNG chunks: `invokeai_metadata` (InvokeAI 3 and later) and `sd-metadata` (InvokeAI 2).

InvokeAI 3+ writes `pnginfo.add_text("invokeai_metadata", json.dumps(metadata))`
(invokeai/app/services/image_files/image_files_disk.py) with the fields of its CoreMetadataInvocation
(invokeai/app/invocations/metadata.py): positive_prompt, negative_prompt, width, height, seed,
cfg_scale, steps, scheduler, model... InvokeAI 2 wrote `sd-metadata`: the model weights' name and an
`image` object whose prompt holds the negative part in [brackets]. `invokeai_graph` and
`invokeai_workflow` (the node graph) are not read: the metadata chunk sits beside them.
"""

from __future__ import annotations

import re
from typing import Any

from studio.metadata import Found, integer, number, samplers, text

BRACKETS = re.compile(r"\[([^\[\]]*)\]")
# Fields that are settings Atelier has no place for, when they hold something.
UNMAPPED = {
    "cfg_rescale_multiplier": "CFG rescale",
    "clip_skip": "CLIP skip",
    "positive_style_prompt": "Style prompt (SDXL)",
    "negative_style_prompt": "Negative style prompt (SDXL)",
    "strength": "Denoising strength",
    "seamless_x": "Seamless X",
    "seamless_y": "Seamless Y",
}
LISTS = {"loras": "LoRAs", "controlnets": "ControlNets", "ipAdapters": "IP adapters", "t2iAdapters": "T2I adapters"}


def from_metadata(meta: Any) -> Found | None:
    if not isinstance(meta, dict) or not any(k in meta for k in ("positive_prompt", "seed", "steps")):
        return None
    scheduler = meta.get("scheduler")
    sampler, karras = samplers.from_invokeai(scheduler) if isinstance(scheduler, str) else ("", "")
    others = [("Schedule type", karras)] if karras else []
    mode = meta.get("generation_mode")
    if isinstance(mode, str) and not mode.endswith("txt2img"):
        others.append(("Generation mode", mode))
    others += [(label, str(meta[key])) for key, label in UNMAPPED.items() if meta.get(key) not in (None, "", 0, False)]
    others += [
        (label, str(len(meta[key]))) for key, label in LISTS.items() if isinstance(meta.get(key), list) and meta[key]
    ]
    return Found(
        "InvokeAI",
        prompt=text(meta.get("positive_prompt")),
        negative_prompt=text(meta.get("negative_prompt")),
        model=_model_name(meta.get("model")),
        seed=integer(meta.get("seed")),
        width=integer(meta.get("width")),
        height=integer(meta.get("height")),
        steps=integer(meta.get("steps")),
        cfg_scale=number(meta.get("cfg_scale")),
        sampler=sampler,
        others=tuple(others),
    )


def _model_name(model: Any) -> str:
    """InvokeAI 4+ identifies a model as {key, hash, name, base, type}; 3 as {model_name, base_model}."""
    if isinstance(model, dict):
        return text(model.get("name") or model.get("model_name"))
    return text(model)


def from_sd_metadata(meta: Any) -> Found | None:
    image = meta.get("image") if isinstance(meta, dict) else None
    if not isinstance(image, dict):
        return None
    raw = image.get("prompt")
    if isinstance(raw, list):  # [{"prompt": "...", "weight": 1.0}, ...]
        raw = " ".join(text(p.get("prompt")) for p in raw if isinstance(p, dict))
    prompt = text(raw)
    negative = ", ".join(part.strip() for part in BRACKETS.findall(prompt))
    sampler, schedule = samplers.from_a1111(text(image.get("sampler")))
    others = [("Schedule type", schedule)] if schedule else []
    if image.get("type") not in (None, "txt2img"):
        others.append(("Generation mode", text(image.get("type"))))
    if image.get("variations"):
        others.append(("Variations", str(len(image["variations"]))))
    return Found(
        "InvokeAI",
        prompt=" ".join(BRACKETS.sub(" ", prompt).split()),
        negative_prompt=negative,
        model=text(meta.get("model_weights")),
        seed=integer(image.get("seed")),
        width=integer(image.get("width")),
        height=integer(image.get("height")),
        steps=integer(image.get("steps")),
        cfg_scale=number(image.get("cfg_scale")),
        sampler=sampler,
        others=tuple(others),
    )
