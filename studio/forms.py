"""The prompt form, built from the catalog for the chosen model. The API and CLI use it too."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django import forms

from studio import catalog

OPTION_PREFIX = "opt_"
DEFAULT_MODEL = "offline"


@dataclass(frozen=True)
class JobSpec:
    """A validated generation request, ready to become a Job."""

    model: catalog.Model
    prompt: str
    negative_prompt: str
    size: catalog.Size
    quality: str
    n: int
    seed: int
    options: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return {
            "width": self.size.width,
            "height": self.size.height,
            "aspect_ratio": self.size.aspect,
            "quality": self.quality,
            "n": self.n,
            "seed": self.seed,
            "options": self.options,
        }


def model_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Models grouped by provider, for a <select> with <optgroup>s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for model in catalog.MODELS.values():
        groups.setdefault(catalog.PROVIDERS[model.provider].label, []).append((model.id, model.label))
    return list(groups.items())


def _option_field(option: catalog.Option) -> forms.Field:
    common = {"label": option.label, "help_text": option.help, "initial": option.default}
    if option.kind == "int":
        return forms.IntegerField(min_value=option.min, max_value=option.max, **common)
    if option.kind == "float":
        return forms.FloatField(min_value=option.min, max_value=option.max, **common)
    if option.kind == "bool":
        return forms.BooleanField(required=False, **common)
    return forms.ChoiceField(choices=[(c, c) for c in option.choices], **common)


class JobForm(forms.Form):
    model = forms.CharField(label="Model")
    prompt = forms.CharField(
        label="Prompt",
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A lighthouse on a cliff at sunset, oil painting"}),
        error_messages={"required": "Write a prompt: describe the image you want."},
    )
    negative_prompt = forms.CharField(
        label="Negative prompt", required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2})
    )
    size = forms.CharField(label="Aspect ratio")
    quality = forms.CharField(label="Quality")
    n = forms.IntegerField(label="Count", initial=1)
    seed = forms.IntegerField(
        label="Seed",
        required=False,
        min_value=0,
        max_value=catalog.SEED_MAX,
        help_text="Blank for a random seed; the seed used is recorded.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source = self.data if self.is_bound else self.initial
        self.catalog_model = catalog.get_model(str(source.get("model") or DEFAULT_MODEL))
        model = self.catalog_model or catalog.MODELS[DEFAULT_MODEL]
        self.fields["size"].widget = forms.Select(choices=[(s.value, s.label) for s in model.sizes])
        self.fields["quality"].widget = forms.Select(choices=[(q, q) for q in model.qualities])
        self.fields["n"].widget = forms.NumberInput(attrs={"min": 1, "max": model.max_n})
        self.fields["prompt"].widget.attrs["maxlength"] = model.max_prompt_chars
        if not self.is_bound:
            self.initial.setdefault("size", model.sizes[0].value)
            self.initial.setdefault("quality", model.default_quality)
        for option in model.options:
            self.fields[OPTION_PREFIX + option.name] = _option_field(option)

    @property
    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(OPTION_PREFIX)]

    def clean_model(self) -> str:
        model_id = self.cleaned_data["model"]
        model = catalog.get_model(model_id)
        if model is None:
            raise forms.ValidationError(f"Unknown model “{model_id}”. See the list of models.")
        available = catalog.availability(model)
        if not available.enabled:
            raise forms.ValidationError(f"{model.label} is not available: {available.reason}.")
        return model_id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model = self.catalog_model
        if model is None or "model" not in cleaned:
            return cleaned
        prompt = cleaned.get("prompt", "")
        if len(prompt) > model.max_prompt_chars:
            self.add_error(
                "prompt",
                f"The prompt is {len(prompt)} characters; {model.label} accepts at most {model.max_prompt_chars}.",
            )
        if cleaned.get("negative_prompt") and not model.negative_prompt:
            self.add_error("negative_prompt", f"{model.label} does not take a negative prompt.")
        size = cleaned.get("size")
        if size and model.size(size) is None:
            allowed = ", ".join(s.value for s in model.sizes)
            self.add_error("size", f"{model.label} does not offer {size}. Choose one of: {allowed}.")
        quality = cleaned.get("quality")
        if quality and quality not in model.qualities:
            allowed = ", ".join(model.qualities)
            self.add_error("quality", f"{model.label} has no quality “{quality}”. Choose one of: {allowed}.")
        n = cleaned.get("n")
        if n is not None and not 1 <= n <= model.max_n:
            self.add_error("n", f"Count must be between 1 and {model.max_n} for {model.label}.")
        unknown = sorted(
            key[len(OPTION_PREFIX) :]
            for key in self.data
            if key.startswith(OPTION_PREFIX) and model.option(key[len(OPTION_PREFIX) :]) is None
        )
        if unknown:
            self.add_error(None, f"{model.label} has no option {', '.join(unknown)}.")
        return cleaned

    def spec(self) -> JobSpec:
        """The validated request; call only after is_valid()."""
        data = self.cleaned_data
        model = self.catalog_model
        assert model is not None
        seed = data.get("seed")
        return JobSpec(
            model=model,
            prompt=data["prompt"],
            negative_prompt=data.get("negative_prompt", "") if model.negative_prompt else "",
            size=model.size(data["size"]),  # type: ignore[arg-type]
            quality=data["quality"],
            n=data["n"],
            seed=seed if seed is not None else secrets.randbelow(catalog.SEED_MAX + 1),
            options={o.name: data[OPTION_PREFIX + o.name] for o in model.options},
        )


def form_data_from_api(payload: dict[str, Any]) -> dict[str, Any]:
    """Turn an API/CLI payload into form data: `aspect_ratio` picks a size, options get defaults."""
    data = {k: v for k, v in payload.items() if k not in ("options", "aspect_ratio")}
    model = catalog.get_model(str(payload.get("model", "")))
    if model is None:
        return data
    data.setdefault("quality", model.default_quality)
    data.setdefault("n", 1)
    if "size" not in data:
        aspect = payload.get("aspect_ratio")
        size = model.size_for_aspect(str(aspect)) if aspect else model.sizes[0]
        # An unknown aspect stays visible to validation as a size the model does not offer.
        data["size"] = size.value if size else str(aspect)
    options = payload.get("options") or {}
    if not isinstance(options, dict):
        options = {"": options}
    for option in model.options:
        data[OPTION_PREFIX + option.name] = option.default
    for name, value in options.items():
        data[OPTION_PREFIX + name] = value
    return data


def initial_from_job(model_id: str, prompt: str, negative_prompt: str, params: dict[str, Any]) -> dict[str, Any]:
    """Form initial values that reproduce a past job (Reuse settings, PNG import)."""
    initial: dict[str, Any] = {
        "model": model_id,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "quality": params.get("quality"),
        "n": params.get("n", 1),
        "seed": params.get("seed"),
    }
    if params.get("width") and params.get("height"):
        initial["size"] = f"{params['width']}x{params['height']}"
    for name, value in (params.get("options") or {}).items():
        initial[OPTION_PREFIX + name] = value
    return {k: v for k, v in initial.items() if v is not None}
