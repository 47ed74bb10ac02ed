"""The one typed request: built and validated once, stored on the job, handed to the provider.

The studio form, the editor, the JSON API, the CLI and comparisons all call `build`, which fills
defaults from the catalog and runs `validate`; `to_params`/`from_job` are the codec to Job rows.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, astuple, dataclass, field, replace
from types import MappingProxyType
from typing import Any

from studio import catalog
from studio.catalog import Model, Operation, Option, OptionKind, Size

VERSION = 2
# Operations whose result is a new picture described by the prompt.
NEEDS_PROMPT = frozenset(
    {
        Operation.GENERATE,
        Operation.EDIT,
        Operation.OUTPAINT,
        Operation.REMIX,
        Operation.SEARCH_REPLACE,
        Operation.CONTROL,
        Operation.STYLE,
        Operation.INSTRUCT,
    }
)
MASKED = frozenset({Operation.EDIT, Operation.ERASE})
# Operations that work from a source image and may be made at the source's own (fitted) size.
FROM_SOURCE = frozenset(set(Operation) - {Operation.GENERATE})
WITH_REFERENCES = frozenset({Operation.EDIT, Operation.INSTRUCT})
# Outpaint targets: what models take, from 1:4 to 4:1.
ASPECT_RE = re.compile(r"(\d{1,2}):(\d{1,2})")
SIZE_RE = re.compile(r"(\d{1,5})\s*[x×]\s*(\d{1,5})")
MAX_ASPECT = 4


class Invalid(Exception):
    """The request breaks the model's rules; `errors` maps a field to messages for the user."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(m for messages in self.errors.values() for m in messages))


@dataclass(frozen=True)
class Extension:
    """Pixels added on each side of the source (outpaint), at the source's scale. A provider that
    extends the original itself gets exactly these; the others get the canvas, fitted to a size
    the model takes."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0

    @property
    def any(self) -> bool:
        return any((self.left, self.top, self.right, self.bottom))


@dataclass(frozen=True)
class EditSettings:
    """What an operation on a source image needs beyond the prompt; unused fields stay None."""

    strength: float | None = None  # remix: 0 keeps the source, 1 ignores it
    factor: int | None = None  # upscale
    extend: Extension | None = None  # outpaint
    search_prompt: str = ""  # search-and-replace
    control_kind: str = ""  # control: structure, sketch, edges, depth
    control_strength: float | None = None
    fidelity: float | None = None  # style


NO_EDIT = EditSettings()


@dataclass(frozen=True)
class Inputs:
    """Storage names of the exact pixels the provider receives (mask: white where it may change)."""

    source: str = ""
    mask: str = ""
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Followup:
    """A Midjourney button (U1-U4, V1-V4) pressed on one of its grids."""

    task_id: str
    action: str
    buttons: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ImageRequest:
    operation: Operation
    model: Model
    prompt: str
    negative_prompt: str
    size: Size
    quality: str
    n: int
    seed: int
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    edit: EditSettings = NO_EDIT
    inputs: Inputs = Inputs()
    followup: Followup | None = None

    def wire_options(self) -> dict[str, Any]:
        """The options a provider sends: the ones set, applicable to this operation and format
        (a value that means "none", such as style_preset "none", is left out)."""
        sent = {}
        for option in self.model.options_for(self.operation):
            value, condition = self.options.get(option.name), option.only_with
            if value is None or (option.unset is not None and value == option.unset):
                continue
            if condition and self.options.get(condition.option) not in condition.values:
                continue
            sent[option.name] = value
        return sent


# --- parsing user text -------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int] | None:
    """W×H from text such as "1536x864"; None when it is not one."""
    match = SIZE_RE.fullmatch(str(text).strip())
    if not match or not int(match.group(1)) or not int(match.group(2)):
        return None
    return int(match.group(1)), int(match.group(2))


def parse_aspect(text: str) -> tuple[int, int] | None:
    """W:H from text such as "16:9", within 1:4 … 4:1; None when it is not one."""
    match = ASPECT_RE.fullmatch(str(text).strip())
    if not match:
        return None
    w, h = int(match.group(1)), int(match.group(2))
    if not w or not h or max(w / h, h / w) > MAX_ASPECT:
        return None
    return w, h


def coerce_option(option: Option, raw: Any) -> Any:
    """The option's typed value from JSON or form text; ValueError says what is wrong."""
    if raw is None or raw == "":
        if option.optional:
            return None
        if option.kind == OptionKind.BOOL:
            return False
        raise ValueError(f"{option.label} needs a value.")
    if option.kind == OptionKind.BOOL:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "on", "yes"):
            return True
        if text in ("0", "false", "off", "no"):
            return False
        raise ValueError(f"{option.label} is on or off, not “{raw}”.")
    if option.kind == OptionKind.CHOICE:
        if str(raw) not in option.choices:
            raise ValueError(f"{option.label} is one of {', '.join(option.choices)}; “{raw}” is not.")
        return str(raw)
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = float(raw) if option.kind == OptionKind.FLOAT else _integer(raw)
    except (TypeError, ValueError, OverflowError):
        kind = "a whole number" if option.kind == OptionKind.INT else "a number"
        raise ValueError(f"{option.label} must be {kind}, not “{raw}”.") from None
    if not option.min <= number <= option.max:
        raise ValueError(f"{option.label} goes from {option.min:g} to {option.max:g}; {number:g} is outside.")
    return number


def _integer(raw: Any) -> int:
    value = float(raw) if not isinstance(raw, int) else raw
    if value != int(value):
        raise ValueError
    return int(value)


TEXT_FIELDS = ("model", "prompt", "negative_prompt", "quality", "size", "aspect_ratio", "search_prompt",
               "control_kind", "extend_aspect")  # fmt: skip
INT_FIELDS = ("n", "seed", "factor")
EDIT_NUMBERS = ("strength", "factor", "control_strength", "fidelity")


def check_types(values: Mapping[str, Any]) -> None:
    """JSON values of the wrong type (a list for a prompt, "2" for n), as Invalid by field."""
    errors = _Errors()
    for name in TEXT_FIELDS:
        if values.get(name) is not None and not isinstance(values[name], str):
            errors.add(name, "Give this as text.")
    for name in INT_FIELDS:
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            errors.add(name, "Give this as a whole number.")
    for name in ("strength", "control_strength", "fidelity"):
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            errors.add(name, "Give this as a number from 0 to 1.")
    errors.raise_any()


# --- building and validating -------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def raise_any(self) -> None:
        if self.errors:
            raise Invalid(self.errors)


def get_model(model_id: str, *, operation: Operation | None = None, available: bool = True) -> Model:
    """The catalog model, or Invalid naming what is wrong with it."""
    model = catalog.get_model(str(model_id))
    if model is None:
        raise Invalid({"model": [f"Unknown model “{model_id}”. See the list of models."]})
    if available and not (state := catalog.availability(model)).enabled:
        raise Invalid({"model": [f"{model.label} is not available: {state.reason}."]})
    if operation is not None and operation not in model.operations:
        if operation == Operation.GENERATE:
            message = f"{model.label} does not make images from a prompt alone; open an image in the editor."
        else:
            message = f"{model.label} cannot {operation.value}. Pick another model."
        raise Invalid({"model": [message]})
    return model


def resolve_size(model: Model, *, size: str | Size | None = None, aspect_ratio: str | None = None) -> Size:
    """The size a generation is made at: a preset by value or aspect ratio, or (for models with
    free sizes) any W×H or aspect ratio the model's rule accepts."""
    if isinstance(size, Size):
        return size
    if size:
        if preset := model.size(str(size)):
            return preset
        parsed = parse_size(str(size))
        if parsed is None:
            raise Invalid({"size": [f"“{size}” is not a size such as 1024x1024."]})
        return Size.of(*parsed)
    if aspect_ratio:
        if preset := model.size_for_aspect(str(aspect_ratio)):
            return preset
        parsed = parse_aspect(str(aspect_ratio))
        rule = model.size_rule
        if parsed and model.free_generate and rule and (not rule.max_ratio or _ratio_within(parsed, rule.max_ratio)):
            w, h = parsed
            area = model.sizes[0].pixels
            fitted = model.size_rule.fit(round((area * w / h) ** 0.5), round((area * h / w) ** 0.5))
            if fitted:
                return replace(fitted, aspect=f"{w}:{h}")
        offered = ", ".join(dict.fromkeys(s.aspect for s in model.sizes))
        raise Invalid({"size": [f"{model.label} has no aspect ratio “{aspect_ratio}”. Choose one of: {offered}."]})
    return model.sizes[0]


def _ratio_within(aspect: tuple[int, int], max_ratio: float) -> bool:
    w, h = aspect
    return max(w, h) / min(w, h) <= max_ratio + 1e-9


def build(
    *,
    model: str | Model,
    operation: Operation | str = Operation.GENERATE,
    prompt: str = "",
    negative_prompt: str = "",
    size: str | Size | None = None,
    aspect_ratio: str | None = None,
    quality: str | None = None,
    n: int | None = None,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
    edit: EditSettings = NO_EDIT,
    inputs: Inputs = Inputs(),
    followup: Followup | None = None,
    available: bool = True,
) -> ImageRequest:
    """A complete request from what the caller gave, with the catalog's defaults; Invalid when any
    part breaks the model's rules (every problem at once, by field)."""
    try:
        operation = Operation(operation)
    except ValueError:
        raise Invalid({"operation": [f"Unknown operation “{operation}”."]}) from None
    if not isinstance(model, Model):
        model = get_model(model, operation=operation, available=available)
    # Parsing problems are kept, the default stands in, and validation goes on: the caller hears
    # of every problem at once.
    errors = _Errors()
    typed: dict[str, Any] = {}
    given = dict(options or {})
    for option in model.options_for(operation):
        try:
            typed[option.name] = coerce_option(option, given.pop(option.name, option.default))
        except ValueError as exc:
            errors.add(f"options.{option.name}", str(exc))
            typed[option.name] = option.default
    for name in sorted(given):
        errors.add("options", f"{model.label} has no option “{name}” for {operation.value}.")
    try:
        resolved = resolve_size(model, size=size, aspect_ratio=aspect_ratio)
    except Invalid as exc:
        errors.errors.update(exc.errors)
        resolved = None
    request = ImageRequest(
        operation=operation,
        model=model,
        prompt=str(prompt or "").strip(),
        negative_prompt=str(negative_prompt or "").strip(),
        size=resolved or model.sizes[0],
        quality=quality or model.default_quality,
        n=1 if n is None else n,
        seed=secrets.randbelow((model.seed_max or catalog.SEED_MAX) + 1) if seed is None else seed,
        options=MappingProxyType(typed),
        edit=edit,
        inputs=inputs,
        followup=followup,
    )
    try:
        validate(request, explicit=frozenset(options or {}))
    except Invalid as exc:
        for name, messages in exc.errors.items():
            if name == "size" and resolved is None:
                continue  # the size stood in for one that could not be read: its error is said
            for message in messages:
                errors.add(name, message)
    errors.raise_any()
    return request


def validate(request: ImageRequest, *, explicit: frozenset[str] | None = None) -> None:
    """Check a request against its model's rules today; Invalid lists every problem by field.

    `explicit` names the options the caller set: an option that does not apply (compression with
    png) is only an error when set to something other than its default."""
    model, op = request.model, request.operation
    errors = _Errors()
    if request.followup is not None:
        if not model.grid_actions or op not in (Operation.UPSCALE, Operation.VARIATION):
            errors.add("model", f"{model.label} has no grid to upscale or vary.")
    elif op not in model.operations:
        errors.add("model", f"{model.label} cannot {op.value}. Pick another model.")
    errors.raise_any()
    _check_text(request, errors)
    if request.quality not in model.qualities:
        errors.add("quality", f"{model.label} has no quality “{request.quality}”. Choose one of: "
                              f"{', '.join(model.qualities)}.")  # fmt: skip
    max_n = model.max_n_for(op)
    if not isinstance(request.n, int) or not 1 <= request.n <= max_n:
        this = f"{model.label}'s {op.value}" if max_n != model.max_n else model.label
        errors.add("n", f"Count must be between 1 and {max_n} for {this}.")
    seed_max = model.seed_max or catalog.SEED_MAX
    if not isinstance(request.seed, int) or not 0 <= request.seed <= seed_max:
        errors.add("seed", f"The seed must be between 0 and {seed_max:,} for {model.label}.")
    _check_options(request, errors, explicit)
    # A follow-up keeps its grid's size: the provider, not Atelier, decides what it renders.
    if request.followup is None and (problem := size_problem(model, op, request.size, request.edit.factor)):
        errors.add("size", problem)
    _check_edit(request, errors)
    errors.raise_any()


def text_problem(text: str) -> str:
    """Why text cannot be stored or sent (a NUL, half of a UTF-16 pair), or ""."""
    if "\x00" in text:
        return "It contains a NUL character."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "It contains a character that is not valid Unicode (half of a surrogate pair)."
    return ""


def _check_text(request: ImageRequest, errors: _Errors) -> None:
    for name in ("prompt", "negative_prompt"):
        if problem := text_problem(getattr(request, name)):
            errors.add(name, problem)
    if problem := text_problem(request.edit.search_prompt):
        errors.add("search_prompt", problem)
    model, prompt = request.model, request.prompt
    if not prompt and request.operation in NEEDS_PROMPT and request.followup is None:
        errors.add("prompt", "Write a prompt: describe the image you want.")
    if len(prompt) > model.max_prompt_chars:
        errors.add("prompt", f"The prompt is {len(prompt)} characters; {model.label} accepts at most "
                             f"{model.max_prompt_chars}.")  # fmt: skip
    if request.negative_prompt and not model.takes_negative_prompt(request.operation):
        if model.negative_prompt:
            message = f"{model.label} takes no negative prompt for {request.operation.value}."
        else:
            message = f"{model.label} does not take a negative prompt."
        errors.add("negative_prompt", message)


def _check_options(request: ImageRequest, errors: _Errors, explicit: frozenset[str] | None) -> None:
    model, values = request.model, request.options
    allowed = {o.name: o for o in model.options_for(request.operation)}
    for name in set(values) - set(allowed):
        errors.add("options", f"{model.label} has no option “{name}” for {request.operation.value}.")
    for option in allowed.values():
        value = values.get(option.name, option.default)
        try:
            coerce_option(option, value)
        except ValueError as exc:
            errors.add(f"options.{option.name}", str(exc))
            continue
        cond = option.only_with
        set_by_caller = explicit is None or option.name in explicit
        if cond and values.get(cond.option) not in cond.values and set_by_caller and value != option.default:
            errors.add(f"options.{option.name}", f"{option.label} applies only when {cond.option} is "
                                                 f"{' or '.join(map(str, cond.values))}.")  # fmt: skip
    for rule in model.rules:
        if values.get(rule.option) in rule.values and values.get(rule.needs.option) not in rule.needs.values:
            errors.add(f"options.{rule.option}", f"{rule.option} “{values.get(rule.option)}” needs "
                       f"{rule.needs.option} {' or '.join(map(str, rule.needs.values))}.")  # fmt: skip


def size_problem(model: Model, operation: Operation, size: Size, factor: int | None = None) -> str:
    """Why the model cannot make an image of this size for this operation, or ""."""
    if operation == Operation.UPSCALE:
        return _upscale_problem(model, size, factor)
    if any((s.width, s.height) == (size.width, size.height) for s in model.sizes):
        return ""
    rule = model.size_rule
    if rule and (operation in FROM_SOURCE or model.free_generate):
        problem = rule.problem(size.width, size.height)
        return f"{model.label} cannot make {size.width}×{size.height}: it needs {problem}." if problem else ""
    offered = ", ".join(s.value for s in model.sizes)
    return f"{model.label} does not offer {size.width}×{size.height}. Choose one of: {offered}."


def _upscale_problem(model: Model, size: Size, factor: int | None) -> str:
    upscale = model.upscale
    if upscale is None:
        return f"{model.label} does not upscale."
    if factor not in upscale.factors:
        return f"{model.label} upscales by {' or '.join(f'{f}×' for f in upscale.factors)}."
    source_w, source_h = size.width // factor, size.height // factor
    if source_w * source_h > upscale.max_input_pixels:
        return (f"{model.label} upscales images of at most {upscale.max_input_pixels:,} pixels; this one is "
                f"{source_w}×{source_h}.")  # fmt: skip
    if max(size.width, size.height) > upscale.max_output_edge:
        return (f"{factor}× would make {size.width}×{size.height}; {model.label} makes at most "
                f"{upscale.max_output_edge} pixels a side.")  # fmt: skip
    if upscale.max_output_pixels and size.pixels > upscale.max_output_pixels:
        return (f"{factor}× would make {size.width}×{size.height} ({size.pixels:,} pixels); {model.label} "
                f"makes at most {upscale.max_output_pixels:,}.")  # fmt: skip
    return ""


def _check_edit(request: ImageRequest, errors: _Errors) -> None:
    model, op, edit = request.model, request.operation, request.edit

    def fraction(name: str, value: float | None) -> None:
        if value is not None and not 0 <= value <= 1:
            errors.add(name, "Give a value from 0 to 1.")

    fraction("strength", edit.strength)
    fraction("control_strength", edit.control_strength)
    fraction("fidelity", edit.fidelity)
    if op == Operation.OUTPAINT:
        sides = astuple(edit.extend) if edit.extend else ()
        if not any(sides):
            errors.add("extend", "Say how far to extend the image: pixels on a side, or a target aspect ratio.")
        elif min(sides) < 0 or max(sides) > model.max_extend:
            errors.add("extend", f"{model.label} extends each side by 0 to {model.max_extend} pixels.")
    if op == Operation.SEARCH_REPLACE and not edit.search_prompt:
        errors.add("search_prompt", "Say what to find and replace, e.g. “the red car”.")
    if op == Operation.CONTROL and edit.control_kind not in model.control_kinds:
        errors.add("control_kind", f"{model.label} follows a source's {' or '.join(model.control_kinds)}, "
                                   f"not “{edit.control_kind}”.")  # fmt: skip
    references = len(request.inputs.references)
    if references and (op not in WITH_REFERENCES or not model.max_references):
        errors.add("references", f"{model.label} does not take reference images for this operation.")
    elif references > model.max_references:
        errors.add("references", f"{model.label} takes at most {model.max_references} reference images.")


# --- the codec: ImageRequest <-> Job ------------------------------------------------------------


def to_params(request: ImageRequest, notes: tuple[str, ...] = ()) -> dict[str, Any]:
    """Job.params for the request (version 2): everything needed to run it again."""
    edit = {k: v for k, v in asdict(request.edit).items() if v not in (None, "")}
    params: dict[str, Any] = {
        "version": VERSION,
        "width": request.size.width,
        "height": request.size.height,
        "aspect_ratio": request.size.aspect,
        "quality": request.quality,
        "n": request.n,
        "seed": request.seed,
        "options": dict(request.options),
    }
    if edit:
        params["edit"] = edit
    if request.inputs.references:
        params["references"] = list(request.inputs.references)
    if request.followup:
        params["followup"] = {**asdict(request.followup), "buttons": [dict(b) for b in request.followup.buttons]}
    if notes:
        params["notes"] = list(notes)
    return params


def job_fields(request: ImageRequest, notes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The Job columns that hold the request."""
    return {
        "operation": request.operation.value,
        "model_id": request.model.id,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "params": to_params(request, notes),
        "source_file": request.inputs.source,
        "mask_file": request.inputs.mask,
    }


def from_job(job: Any) -> ImageRequest:
    """The request a job row holds, as it was validated when queued; Invalid if its model is gone
    or the row cannot be read (a hand-edited or damaged row is a failed job, never a crash)."""
    try:
        return _decode(job)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Invalid({"request": [f"Job {job.pk}'s settings cannot be read ({exc!r})."]}) from exc


def _decode(job: Any) -> ImageRequest:
    params = job.params
    if not isinstance(params, dict) or params.get("version") != VERSION:
        version = params.get("version") if isinstance(params, dict) else None
        raise Invalid({"request": [f"Job {job.pk} holds settings in an unknown format ({version})."]})
    model = catalog.get_model(job.model_id)
    if model is None:
        raise Invalid({"model": [f"The model “{job.model_id}” no longer exists."]})
    edit = dict(params.get("edit") or {})
    if "extend" in edit:
        edit["extend"] = Extension(**edit["extend"])
    followup = params.get("followup")
    return ImageRequest(
        operation=Operation(job.operation),
        model=model,
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        size=_stored_size(model, params),
        quality=params["quality"],
        n=params["n"],
        seed=params["seed"],
        options=MappingProxyType(dict(params.get("options") or {})),
        edit=EditSettings(**edit),
        inputs=Inputs(job.source_file, job.mask_file, tuple(params.get("references") or ())),
        followup=Followup(followup["task_id"], followup["action"], tuple(followup.get("buttons") or ()))
        if followup
        else None,
    )


def _stored_size(model: Model, params: Mapping[str, Any]) -> Size:
    """The size a row holds: the model's preset where it is one, else the stored W×H with its ratio.
    Rows written before sizes had names may hold a name in aspect_ratio ("16:9 4K"); the ratio is
    then the preset's, or the size's own reduced ratio."""
    width, height, aspect = params["width"], params["height"], params.get("aspect_ratio") or ""
    if not isinstance(width, int) or not isinstance(height, int):
        raise TypeError(f"width and height must be whole numbers, not {width!r}×{height!r}")
    ratio = aspect if parse_aspect(aspect) else ""
    presets = [s for s in model.sizes if (s.width, s.height) == (width, height)]
    if preset := next((s for s in presets if s.aspect == ratio or not ratio), None):
        return preset
    return Size(ratio, width, height) if ratio else Size.of(width, height)
