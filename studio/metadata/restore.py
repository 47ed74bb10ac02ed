"""Put the settings found in a file onto a catalog model: what the model takes is restored, the rest
is named with the reason, so the user knows what the new image will not have."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from studio import catalog, specs
from studio.metadata import Found, a1111, samplers

# Generic settings other tools write, the catalog options that take them, and how a value is
# named to the user (a sampler by A1111's name, the one most people know).
OPTION_FIELDS: tuple[tuple[str, str, tuple[str, ...], Callable[[Any], str]], ...] = (
    ("steps", "Steps", a1111.STEPS_OPTIONS, str),
    ("cfg_scale", "CFG scale", ("cfg_scale",), str),
    ("sampler", "Sampler", ("sampler",), samplers.a1111_name),
)


@dataclass(frozen=True)
class Restored:
    source: str  # the tool that wrote the file
    model: catalog.Model
    prompt: str
    negative_prompt: str
    params: dict[str, Any]  # width, height, quality, seed, options: the shape of Job.params
    adjusted: tuple[str, ...]  # restored, but changed to fit the model
    not_restored: tuple[str, ...]  # what the file holds that the model does not take, and why

    def request_json(self) -> dict[str, Any]:
        """The settings as a body for POST /api/v1/jobs."""
        body: dict[str, Any] = {"model": self.model.id, "prompt": self.prompt}
        if self.negative_prompt:
            body["negative_prompt"] = self.negative_prompt
        if "width" in self.params:
            body["size"] = f"{self.params['width']}x{self.params['height']}"
        body.update({k: self.params[k] for k in ("quality", "seed") if k in self.params})
        if self.params.get("options"):
            body["options"] = self.params["options"]
        return body


def _model(found: Found, chosen: str) -> tuple[catalog.Model, list[str]]:
    """The file's own model when it is one of the catalog's that makes images from a prompt, else
    the one chosen in the form; and what the user should know about the choice."""
    own = catalog.get_model(found.model)
    if own and catalog.Operation.GENERATE in own.operations:
        model, notes = own, []
    else:
        model = catalog.get_model(chosen)
        if model is None or catalog.Operation.GENERATE not in model.operations:
            model = catalog.get_model(catalog.default_model(catalog.Operation.GENERATE, "offline"))
        why = "makes no images from a prompt alone" if own else "not one of Atelier's"
        notes = [f"Model “{found.model}”: {why}; the settings are put onto {model.label}."] if found.model else []
    if not (available := catalog.availability(model)).enabled:
        notes.append(f"{model.label} is not available here ({available.reason}): pick another model to generate.")
    return model, notes


def onto(found: Found, chosen: str) -> Restored:
    model, not_restored = _model(found, chosen)
    adjusted: list[str] = []
    params: dict[str, Any] = {}
    texts = {"prompt": found.prompt, "negative_prompt": found.negative_prompt}
    for name, label in (("prompt", "Prompt"), ("negative_prompt", "Negative prompt")):
        if texts[name] and (problem := specs.text_problem(texts[name])):
            not_restored.append(f"{label}: {problem}")
            texts[name] = ""
    if texts["negative_prompt"] and not model.negative_prompt:
        not_restored.append(f"Negative prompt “{_short(texts['negative_prompt'])}”: {model.label} takes none.")
        texts["negative_prompt"] = ""
    if found.seed is not None:
        if model.seed and 0 <= found.seed <= (model.seed_max or 0):
            params["seed"] = found.seed
        else:
            reason = "takes no seed" if not model.seed else f"takes seeds from 0 to {model.seed_max:,}"
            not_restored.append(f"Seed {found.seed}: {model.label} {reason}.")
    if found.width is not None and found.height is not None:
        _restore_size(model, found.width, found.height, params, adjusted, not_restored)
    if found.quality:
        if found.quality in model.qualities:
            params["quality"] = found.quality
        else:
            not_restored.append(f"Quality “{found.quality}”: {model.label} offers {', '.join(model.qualities)}.")
    options, problems = _options(model, found)
    if options:
        params["options"] = options
    not_restored += problems + [f"{name}: {_short(value)}" for name, value in found.others]
    return Restored(
        found.source, model, texts["prompt"], texts["negative_prompt"], params, tuple(adjusted), tuple(not_restored)
    )


def _restore_size(
    model: catalog.Model, width: int, height: int, params: dict[str, Any], adjusted: list[str], not_restored: list[str]
) -> None:
    """The size itself where the model offers it (or takes free sizes), else its nearest preset."""
    if width <= 0 or height <= 0:
        not_restored.append(f"Size {width}×{height}: not a size.")
        return
    size = model.size(f"{width}x{height}")
    if size is None and model.free_generate and model.size_rule and not model.size_rule.problem(width, height):
        size = catalog.Size.of(width, height)
    if size is None:
        size = model.nearest_size(width / height)
        adjusted.append(f"Size {width}×{height} → {size.width}×{size.height}, the nearest {model.label} offers.")
    params.update(width=size.width, height=size.height)


def _options(model: catalog.Model, found: Found) -> tuple[dict[str, Any], list[str]]:
    """The model's options the file sets, each checked as a typed value would be."""
    wanted: list[tuple[str, tuple[str, ...], Any, str]] = [
        (label, names, value, shown(value))
        for field, label, names, shown in OPTION_FIELDS
        if (value := getattr(found, field)) not in (None, "")
    ]
    wanted += [(str(name), (str(name),), value, str(value)) for name, value in found.options.items()]
    options: dict[str, Any] = {}
    problems: list[str] = []
    generate = model.options_for(catalog.Operation.GENERATE)
    for label, names, value, shown in wanted:
        option = next((o for o in generate if o.name in names), None)
        if option is None:
            problems.append(f"{label} {_short(shown)}: {model.label} has no such setting.")
            continue
        try:
            options[option.name] = specs.coerce_option(option, value)
        except ValueError as exc:
            problems.append(str(exc))
    return options, problems


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
