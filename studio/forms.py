"""The studio's and the editor's forms: they parse fields, then build the request through specs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.core.files.storage import default_storage

from studio import battles, catalog, comparisons, editing, jobs, media, specs

OPTION_PREFIX = "opt_"
DEFAULT_MODEL = "offline"
T = TypeVar("T")


def _option_field(option: catalog.Option) -> forms.Field:
    """A form field that renders the option; its value is checked by specs.validate, with the rest."""
    common = {"label": option.label, "help_text": option.help, "initial": option.default, "required": False}
    if option.kind == catalog.OptionKind.BOOL:
        return forms.BooleanField(**common)
    if option.kind == catalog.OptionKind.CHOICE:
        blank = [("", "Model default")] if option.optional else []
        return forms.CharField(widget=forms.Select(choices=blank + [(c, c) for c in option.choices]), **common)
    step = "1" if option.kind == catalog.OptionKind.INT else "any"
    return forms.CharField(widget=forms.NumberInput(attrs={"min": option.min, "max": option.max, "step": step}),
                           **common)  # fmt: skip


class ModelRequestForm(forms.Form):
    """What every job has: a model, its prompt, quality, count, seed and model-specific options.

    The fields only parse text; the request itself is built and checked by specs (the same rules
    the API, the CLI and comparisons use), and its errors are put back on these fields."""

    model = forms.CharField(label="Model")
    prompt = forms.CharField(
        label="Prompt",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A lighthouse on a cliff at sunset, oil painting"}),
    )
    negative_prompt = forms.CharField(
        label="Negative prompt", required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2})
    )
    quality = forms.CharField(label="Quality", required=False)
    n = forms.IntegerField(label="Count", initial=1, required=False)
    # Its range is the model's (checked by specs with the rest).
    seed = forms.IntegerField(
        label="Seed", required=False, help_text="Blank for a random seed; the seed used is recorded."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source = self.data if self.is_bound else self.initial
        self.catalog_model = catalog.get_model(str(source.get("model") or DEFAULT_MODEL))
        model = self.catalog_model or catalog.MODELS[DEFAULT_MODEL]
        self.fields["quality"].widget = forms.Select(choices=[(q, q) for q in model.qualities])
        self.fields["prompt"].widget.attrs["maxlength"] = model.max_prompt_chars
        if not self.is_bound:
            self.initial.setdefault("quality", model.default_quality)
        try:
            operation = catalog.Operation(source.get("operation") or catalog.Operation.GENERATE)
        except ValueError:
            operation = catalog.Operation.GENERATE
        self.fields["n"].widget = forms.NumberInput(attrs={"min": 1, "max": model.max_n_for(operation)})
        self.model_options = model.options_for(operation)
        for option in self.model_options:
            self.fields[OPTION_PREFIX + option.name] = _option_field(option)

    @property
    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(OPTION_PREFIX)]

    def request_fields(self) -> dict[str, Any]:
        """The cleaned values every request takes, for specs.build or editing.prepare."""
        data = self.cleaned_data
        model = self.catalog_model
        # A field left blank keeps the model's default (an unchecked box is False, as HTML sends it).
        values = {o.name: data.get(OPTION_PREFIX + o.name) for o in self.model_options} if model else {}
        options = {name: value for name, value in values.items() if value not in (None, "")}
        return {
            "prompt": data.get("prompt", ""),
            "negative_prompt": data.get("negative_prompt", ""),
            "quality": data.get("quality") or None,
            "n": data.get("n"),
            "seed": data.get("seed"),
            "options": options,
        }

    def add_invalid(self, exc: specs.Invalid) -> None:
        """Put a request's errors on the fields they belong to (the rest above the form)."""
        for name, messages in exc.errors.items():
            field = OPTION_PREFIX + name.removeprefix("options.") if name.startswith("options.") else name
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class JobForm(ModelRequestForm):
    """The studio's prompt form: generate a new image at one of the model's sizes."""

    size = forms.CharField(label="Aspect ratio", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model = self.catalog_model or catalog.MODELS[DEFAULT_MODEL]
        self.fields["size"].widget = forms.Select(choices=[(s.value, s.label) for s in model.sizes])
        if not self.is_bound:
            self.initial.setdefault("size", model.sizes[0].value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.request = specs.build(
                model=cleaned.get("model", ""), size=cleaned.get("size") or None, **self.request_fields()
            )
        except specs.Invalid as exc:
            self.add_invalid(exc)
        return cleaned


EDIT_OPERATIONS = {
    catalog.Operation.EDIT: "Inpaint",
    catalog.Operation.OUTPAINT: "Outpaint",
    catalog.Operation.INSTRUCT: "Instruct",
    catalog.Operation.REMIX: "Remix",
    catalog.Operation.VARIATION: "Variation",
    catalog.Operation.UPSCALE: "Upscale",
    catalog.Operation.ERASE: "Erase",
    catalog.Operation.SEARCH_REPLACE: "Replace",
    catalog.Operation.CONTROL: "Control",
    catalog.Operation.STYLE: "Style",
}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern); cleans to a list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class EditForm(ModelRequestForm):
    """The editor: inpaint, outpaint, instruct, remix, vary or upscale a gallery image or an upload."""

    operation = forms.ChoiceField(choices=[(op.value, label) for op, label in EDIT_OPERATIONS.items()])
    source = forms.IntegerField(required=False, widget=forms.HiddenInput)
    image = forms.FileField(required=False, label="Image")
    mask = forms.FileField(required=False)
    strength = forms.FloatField(
        label="Strength", min_value=0, max_value=1, initial=0.6, required=False,
        help_text="0 keeps the source, 1 ignores it.",
    )  # fmt: skip
    factor = forms.TypedChoiceField(
        label="Scale", coerce=int, empty_value=None, required=False, choices=[(2, "2×"), (4, "4×")]
    )
    # Their range is the model's (catalog max_extend), checked by specs with the rest.
    extend_left = forms.IntegerField(label="Left", initial=0, required=False)
    extend_top = forms.IntegerField(label="Top", initial=0, required=False)
    extend_right = forms.IntegerField(label="Right", initial=0, required=False)
    extend_bottom = forms.IntegerField(label="Bottom", initial=0, required=False)
    extend_aspect = forms.CharField(label="or to aspect ratio", required=False)
    search_prompt = forms.CharField(label="Find", required=False, max_length=1000, strip=True,
                                    help_text="What to replace, in words (e.g. “the red car”).")  # fmt: skip
    control_kind = forms.CharField(label="Follow the source's", required=False)
    control_strength = forms.FloatField(label="Control strength", min_value=0, max_value=1, initial=0.7, required=False)
    fidelity = forms.FloatField(label="Style fidelity", min_value=0, max_value=1, initial=0.5, required=False)
    references = MultipleFileField(label="Reference images", required=False)

    def __init__(self, *args: Any, restored: specs.ImageRequest | None = None, **kwargs: Any) -> None:
        """`restored`: the request of a past job these values come from (Edit and retry), checked
        the way Retry checks it instead of preparing pixels the user has not given again."""
        super().__init__(*args, **kwargs)
        self.restored = restored

    def clean(self) -> dict[str, Any]:
        from gallery.models import Image as GalleryImage

        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.restored is not None:
            try:
                specs.validate(self.restored)
            except specs.Invalid as exc:
                # The source is fitted to the model again when it is sent, so its old size is moot.
                self.add_invalid(specs.Invalid({k: v for k, v in exc.errors.items() if k != "size"}))
            return cleaned
        source_image, upload = None, cleaned.get("image")
        if source_id := cleaned.get("source"):
            source_image = GalleryImage.objects.filter(pk=source_id).first()
            if source_image is None:
                self.add_error("source", "That gallery image no longer exists.")
                return cleaned
            try:
                with default_storage.open(source_image.file) as file:
                    data = file.read()
            except FileNotFoundError:
                self.add_error("source", "That gallery image's file is missing; it cannot be edited.")
                return cleaned
        elif upload:
            data = upload.read(settings.UPLOAD_MAX_BYTES + 1)
        else:
            self.add_error("image", "Choose an image to edit.")
            return cleaned
        sides = [cleaned.get(f"extend_{side}") or 0 for side in ("left", "top", "right", "bottom")]
        mask = self.files.get("mask")
        try:
            self.prepared = editing.prepare(
                model=cleaned["model"],
                operation=cleaned["operation"],
                source=data,
                source_image=source_image,
                mask=mask.read(settings.UPLOAD_MAX_BYTES + 1) if mask else None,
                references=[f.read(settings.UPLOAD_MAX_BYTES + 1) for f in cleaned.get("references") or []],
                settings=specs.EditSettings(
                    strength=cleaned.get("strength"),
                    factor=cleaned.get("factor"),
                    extend=specs.Extension(*sides),
                    search_prompt=cleaned.get("search_prompt", ""),
                    control_kind=cleaned.get("control_kind", ""),
                    control_strength=cleaned.get("control_strength"),
                    fidelity=cleaned.get("fidelity"),
                ),
                extend_aspect=(cleaned.get("extend_aspect") or "").strip(),
                **self.request_fields(),
            )
        except specs.Invalid as exc:
            self.add_invalid(exc)
        return cleaned


class _ComparedPromptForm(forms.Form):
    """What every comparison shares: the prompt and the settings each column gets."""

    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=True,
                             error_messages={"required": "Write a prompt to compare on."})  # fmt: skip
    negative_prompt = forms.CharField(required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2}))
    aspect_ratio = forms.ChoiceField(choices=[(a, a) for a in comparisons.ASPECTS], initial="1:1")
    seed = forms.IntegerField(required=False, min_value=0, max_value=catalog.SEED_MAX,
                              help_text="Blank for a random seed, shared by every column.")  # fmt: skip
    category = forms.CharField(required=False, max_length=60, strip=True, help_text="Groups the leaderboard.")


class ComparisonForm(_ComparedPromptForm):
    quality = forms.ChoiceField(choices=list(comparisons.QUALITY_TIERS.items()), initial="default")
    labelled = forms.BooleanField(required=False, help_text="Show model names before voting (not blind).")
    models = forms.MultipleChoiceField(
        choices=[(m.id, m.label) for m in catalog.models_for(catalog.Operation.GENERATE)]
    )

    def clean_models(self) -> list[str]:
        chosen = list(dict.fromkeys(self.cleaned_data["models"]))
        if not comparisons.MIN_COLUMNS <= len(chosen) <= comparisons.MAX_COLUMNS:
            raise forms.ValidationError(
                f"Pick {comparisons.MIN_COLUMNS} to {comparisons.MAX_COLUMNS} models; you picked {len(chosen)}."
            )
        disabled = [
            f"{catalog.MODELS[m].label} ({catalog.availability(catalog.MODELS[m]).reason})"
            for m in chosen
            if not catalog.availability(catalog.MODELS[m]).enabled
        ]
        if disabled:
            raise forms.ValidationError("Not available here: " + "; ".join(disabled) + ".")
        return chosen

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        prompt = cleaned.get("prompt", "")
        too_long = [
            catalog.MODELS[m].label
            for m in cleaned.get("models", [])
            if len(prompt) > catalog.MODELS[m].max_prompt_chars
        ]
        if too_long:
            self.add_error("prompt", f"The prompt is {len(prompt)} characters, too long for {', '.join(too_long)}.")
        return cleaned


class BattleForm(forms.Form):
    """A battle: the prompt and its shape; the models are drawn for you."""

    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=True,
                             error_messages={"required": "Write a prompt, or pick one of the team's."})  # fmt: skip
    aspect_ratio = forms.ChoiceField(choices=[(a, a) for a in comparisons.ASPECTS], initial="1:1")
    category = forms.CharField(required=False, max_length=60, strip=True, help_text="Groups the leaderboard.")

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        shortest = min((m.max_prompt_chars for m in battles.candidates()), default=len(prompt))
        if len(prompt) > shortest:
            raise forms.ValidationError(f"Keep a battle prompt to {shortest} characters, so every model takes it.")
        return prompt


class SweepForm(_ComparedPromptForm):
    """One model, one setting, several values: quality, or any numeric or choice option."""

    model = forms.ChoiceField(choices=[(m.id, m.label) for m in catalog.models_for(catalog.Operation.GENERATE)])
    setting = forms.CharField(help_text="quality, or one of the model's options, such as cfg_scale")
    values = forms.CharField(help_text="2 to 6 values, separated by commas")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model = catalog.get_model(cleaned.get("model", ""))
        if model is None or "setting" not in cleaned or "values" not in cleaned:
            return cleaned
        if not catalog.availability(model).enabled:
            self.add_error("model", f"{model.label} is not available: {catalog.availability(model).reason}.")
            return cleaned
        setting = cleaned["setting"].strip()
        raw = [v.strip() for v in cleaned["values"].split(",") if v.strip()]
        if not comparisons.MIN_COLUMNS <= len(raw) <= comparisons.MAX_COLUMNS:
            self.add_error(
                "values", f"Give {comparisons.MIN_COLUMNS} to {comparisons.MAX_COLUMNS} values; you gave {len(raw)}."
            )
            return cleaned
        try:
            cleaned["parsed_values"] = [comparisons.parse_sweep_value(model, setting, value) for value in raw]
        except ValueError as exc:
            self.add_error("values", str(exc))
        return cleaned


def initial_from_job(job: Any, *, seed: int | None = None) -> dict[str, Any]:
    """Form initial values that reproduce a past job (Edit and retry, Reuse with the image's own
    `seed`), read through the job codec; specs.Invalid when its model is gone or the row cannot
    be read."""
    return initial_from_request(specs.from_job(job), seed=seed)


def initial_from_request(request: specs.ImageRequest, *, seed: int | None = None) -> dict[str, Any]:
    """The studio form's values for a request (the size as W×H, which the editor ignores)."""
    options = {name: value for name, value in request.options.items() if value is not None}
    return initial_from_settings(
        request.model.id,
        request.prompt,
        request.negative_prompt,
        {"width": request.size.width, "height": request.size.height, "quality": request.quality, "n": request.n,
         "seed": request.seed if seed is None else seed, "options": options},
    )  # fmt: skip


def edit_initial_from_request(request: specs.ImageRequest, *, source: int | None) -> dict[str, Any]:
    """The editor's values for an edit request (Edit and retry): the operation, the gallery image
    it started from (None: an upload), and the operation's own settings."""
    initial = {**initial_from_request(request), "operation": request.operation.value, "source": source}
    initial.pop("size")  # the editor fits the source to the model itself
    edit = request.edit
    for name in ("strength", "factor", "search_prompt", "control_kind", "control_strength", "fidelity"):
        initial[name] = getattr(edit, name)
    if edit.extend:
        for side in ("left", "top", "right", "bottom"):
            initial[f"extend_{side}"] = getattr(edit.extend, side)
    return {name: value for name, value in initial.items() if value not in (None, "")}


def initial_from_settings(model_id: str, prompt: str, negative_prompt: str, params: dict[str, Any]) -> dict[str, Any]:
    """Form initial values from settings in the shape of Job.params, read from a file anyone could
    have written (PNG import): only plain values are taken; the form then checks them like
    anything typed."""
    initial: dict[str, Any] = {
        "model": model_id,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "quality": params.get("quality"),
        "n": params.get("n", 1),
        "seed": params.get("seed"),
    }
    width, height = params.get("width"), params.get("height")
    if isinstance(width, int) and isinstance(height, int):
        initial["size"] = f"{width}x{height}"
    options = params.get("options")
    for name, value in options.items() if isinstance(options, dict) else ():
        initial[OPTION_PREFIX + str(name)] = value
    return {k: v for k, v in initial.items() if _plain(v)}


def _plain(value: Any) -> bool:
    """A value a form can show: a number, a flag, or text that is valid Unicode without a NUL."""
    if isinstance(value, str):
        return not specs.text_problem(value)
    return isinstance(value, int | float | bool)


def queue(form: forms.Form, create: Callable[[], T]) -> T | None:
    """Queue what a valid form describes (a job, a comparison); None when the form is invalid or
    the job is refused (budget, per-user cap, queue down), with the reason added to the form so
    the page can show it, and `form.status_code` the HTTP status to show it with."""
    form.status_code = 422
    if not form.is_valid():
        return None
    try:
        return create()
    except specs.Invalid as exc:
        form.add_error(None, str(exc))
    except jobs.JobRefused as exc:
        form.add_error(None, str(exc))
        form.status_code = exc.status or 422
    except media.StorageFailure as exc:
        form.add_error(None, f"Atelier could not store the images: {exc.reason}. Ask an admin to fix media storage.")
    return None
