"""The prompt form, built from the catalog for the chosen model. The API and CLI use it too."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image, ImageChops

from studio import catalog, imaging

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


class ModelRequestForm(forms.Form):
    """What every job has: a model, its prompt, quality, count, seed and model-specific options."""

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
        self.fields["quality"].widget = forms.Select(choices=[(q, q) for q in model.qualities])
        self.fields["n"].widget = forms.NumberInput(attrs={"min": 1, "max": model.max_n})
        self.fields["prompt"].widget.attrs["maxlength"] = model.max_prompt_chars
        if not self.is_bound:
            self.initial.setdefault("quality", model.default_quality)
        for option in model.options:
            self.fields[OPTION_PREFIX + option.name] = _option_field(option)

    @property
    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(OPTION_PREFIX)]

    def prompt_required(self) -> bool:
        return True

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
        prompt = cleaned.get("prompt", "")
        if not prompt and "prompt" not in self.errors and self.prompt_required():
            self.add_error("prompt", "Write a prompt: describe the image you want.")
        model = self.catalog_model
        if model is None or "model" not in cleaned:
            return cleaned
        if len(prompt) > model.max_prompt_chars:
            self.add_error(
                "prompt",
                f"The prompt is {len(prompt)} characters; {model.label} accepts at most {model.max_prompt_chars}.",
            )
        if cleaned.get("negative_prompt") and not model.negative_prompt:
            self.add_error("negative_prompt", f"{model.label} does not take a negative prompt.")
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

    def _common(self) -> dict[str, Any]:
        """The validated fields shared by every spec; call only after is_valid()."""
        data = self.cleaned_data
        model = self.catalog_model
        assert model is not None
        seed = data.get("seed")
        return {
            "model": model,
            "prompt": data.get("prompt", ""),
            "negative_prompt": data.get("negative_prompt", "") if model.negative_prompt else "",
            "quality": data["quality"],
            "n": data["n"],
            "seed": seed if seed is not None else secrets.randbelow(catalog.SEED_MAX + 1),
            "options": {o.name: data[OPTION_PREFIX + o.name] for o in model.options},
        }


class JobForm(ModelRequestForm):
    """The studio's prompt form: generate a new image at one of the model's sizes."""

    size = forms.CharField(label="Aspect ratio")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model = self.catalog_model or catalog.MODELS[DEFAULT_MODEL]
        self.fields["size"].widget = forms.Select(choices=[(s.value, s.label) for s in model.sizes])
        if not self.is_bound:
            self.initial.setdefault("size", model.sizes[0].value)

    def clean_model(self) -> str:
        model_id = super().clean_model()
        if catalog.Operation.GENERATE not in catalog.MODELS[model_id].operations:
            label = catalog.MODELS[model_id].label
            raise forms.ValidationError(
                f"{label} does not make images from a prompt alone; open an image in the editor."
            )
        return model_id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model = self.catalog_model
        size = cleaned.get("size")
        if model and size and model.size(size) is None:
            allowed = ", ".join(s.value for s in model.sizes)
            self.add_error("size", f"{model.label} does not offer {size}. Choose one of: {allowed}.")
        return cleaned

    def spec(self) -> JobSpec:
        """The validated request; call only after is_valid()."""
        common = self._common()
        return JobSpec(size=common["model"].size(self.cleaned_data["size"]), **common)


EDIT_OPERATIONS = {
    catalog.Operation.EDIT: "Inpaint",
    catalog.Operation.OUTPAINT: "Outpaint",
    catalog.Operation.REMIX: "Remix",
    catalog.Operation.VARIATION: "Variation",
    catalog.Operation.UPSCALE: "Upscale",
    catalog.Operation.ERASE: "Erase",
    catalog.Operation.SEARCH_REPLACE: "Replace",
    catalog.Operation.CONTROL: "Control",
    catalog.Operation.STYLE: "Style",
}
NEEDS_PROMPT = {
    catalog.Operation.EDIT,
    catalog.Operation.OUTPAINT,
    catalog.Operation.REMIX,
    catalog.Operation.SEARCH_REPLACE,
    catalog.Operation.CONTROL,
    catalog.Operation.STYLE,
}
MASKED = {catalog.Operation.EDIT, catalog.Operation.ERASE}
MAX_EXTEND = 4096


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


@dataclass(frozen=True)
class EditSpec:
    """A validated edit: the exact input pixels (resized to a size the model takes) and mask."""

    operation: catalog.Operation
    model: catalog.Model
    prompt: str
    negative_prompt: str
    quality: str
    n: int
    seed: int
    options: dict[str, Any]
    canvas: Image.Image
    mask: Image.Image | None
    result_size: catalog.Size
    source_image: Any  # gallery.Image or None: the parent in the image's lineage
    extra: dict[str, Any]  # strength, factor or extension
    references: tuple[bytes, ...] = ()  # extra images the model should draw from (PNG)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "width": self.result_size.width,
            "height": self.result_size.height,
            "aspect_ratio": self.result_size.aspect,
            "quality": self.quality,
            "n": self.n,
            "seed": self.seed,
            "options": self.options,
            **self.extra,
        }


class EditForm(ModelRequestForm):
    """The editor: inpaint, outpaint, remix, vary or upscale a gallery image or an upload."""

    operation = forms.ChoiceField(choices=[(op.value, label) for op, label in EDIT_OPERATIONS.items()])
    source = forms.IntegerField(required=False, widget=forms.HiddenInput)
    image = forms.FileField(required=False, label="Image")
    mask = forms.FileField(required=False)
    strength = forms.FloatField(
        label="Strength", min_value=0, max_value=1, initial=0.6, required=False,
        help_text="0 keeps the source, 1 ignores it.",
    )  # fmt: skip
    factor = forms.TypedChoiceField(label="Scale", coerce=int, required=False, choices=[(2, "2×"), (4, "4×")])
    extend_left = forms.IntegerField(label="Left", min_value=0, max_value=MAX_EXTEND, initial=0, required=False)
    extend_top = forms.IntegerField(label="Top", min_value=0, max_value=MAX_EXTEND, initial=0, required=False)
    extend_right = forms.IntegerField(label="Right", min_value=0, max_value=MAX_EXTEND, initial=0, required=False)
    extend_bottom = forms.IntegerField(label="Bottom", min_value=0, max_value=MAX_EXTEND, initial=0, required=False)
    extend_aspect = forms.CharField(label="or to aspect ratio", required=False)
    search_prompt = forms.CharField(label="Find", required=False, max_length=1000, strip=True,
                                    help_text="What to replace, in words (e.g. “the red car”).")  # fmt: skip
    control_kind = forms.CharField(label="Follow the source's", required=False)
    control_strength = forms.FloatField(label="Control strength", min_value=0, max_value=1, initial=0.7, required=False)
    fidelity = forms.FloatField(label="Style fidelity", min_value=0, max_value=1, initial=0.5, required=False)
    references = MultipleFileField(label="Reference images", required=False)

    def prompt_required(self) -> bool:
        return self.data.get("operation") in NEEDS_PROMPT

    def clean(self) -> dict[str, Any]:
        from gallery.models import Image as GalleryImage

        cleaned = super().clean()
        model, operation = self.catalog_model, cleaned.get("operation")
        if model is None or "model" not in cleaned or not operation:
            return cleaned
        if operation not in model.operations:
            self.add_error("model", f"{model.label} cannot {EDIT_OPERATIONS[operation].lower()}. Pick another model.")
            return cleaned
        source_id, upload = cleaned.get("source"), cleaned.get("image")
        self.source_image = None
        if source_id:
            self.source_image = GalleryImage.objects.filter(pk=source_id).first()
            if self.source_image is None:
                self.add_error("source", "That gallery image no longer exists.")
                return cleaned
            data = default_storage.open(self.source_image.file).read()
        elif upload:
            data = upload.read(settings.UPLOAD_MAX_BYTES + 1)
        else:
            self.add_error("image", "Choose an image to edit.")
            return cleaned
        try:
            source = imaging.decode(data).convert("RGB")
        except imaging.ImageRejected as exc:
            self.add_error("image", str(exc))
            return cleaned
        self.reference_pngs = self._references(model, operation, cleaned.get("references") or [])
        try:
            self.prepared = self._prepare(model, operation, source, cleaned)
        except imaging.MaskRejected as exc:
            self.add_error("mask", str(exc))
        except forms.ValidationError as exc:
            self.add_error(None, exc)
        return cleaned

    def _references(self, model: catalog.Model, operation: str, uploads: list[Any]) -> tuple[bytes, ...]:
        """Reference images as PNGs, checked like any upload; only models that take them may."""
        if not uploads:
            return ()
        limit = int(model.provider_params.get("max_references", 0))
        if operation != catalog.Operation.EDIT or not limit:
            self.add_error("references", f"{model.label} does not take reference images for this operation.")
            return ()
        if len(uploads) > limit:
            self.add_error("references", f"{model.label} takes at most {limit} reference images.")
            return ()
        pngs = []
        for upload in uploads:
            try:
                pngs.append(
                    imaging.png_bytes(imaging.decode(upload.read(settings.UPLOAD_MAX_BYTES + 1)).convert("RGB"))
                )
            except imaging.ImageRejected as exc:
                self.add_error("references", f"{upload.name}: {exc}")
                return ()
        return tuple(pngs)

    def _prepare(self, model: catalog.Model, operation: str, source: Image.Image, cleaned: dict[str, Any]):
        """(canvas, mask, result size, extra params) for the operation; raises on unusable input."""
        mask = None
        extra: dict[str, Any] = {}
        canvas = source
        if operation == catalog.Operation.UPSCALE:
            factor = cleaned.get("factor") or (model.upscale_factors[0] if model.upscale_factors else None)
            if factor not in model.upscale_factors:
                allowed = " or ".join(f"{f}×" for f in model.upscale_factors) or "no factor"
                raise forms.ValidationError(f"{model.label} upscales by {allowed}.")
            result = model.edit_size(source.width * factor, source.height * factor)
            if result is None or (result.width, result.height) != (source.width * factor, source.height * factor):
                raise forms.ValidationError(
                    f"{factor}× would make {source.width * factor}×{source.height * factor}; "
                    f"{model.label} handles at most {model.max_edge} pixels a side."
                )
            return canvas, None, result, {"factor": factor}
        if operation == catalog.Operation.OUTPAINT:
            sides = self._extension(source, cleaned)
            canvas, mask = imaging.extend_canvas(source, **sides)
            extra["extend"] = sides
            painted = self.files.get("mask")
            if painted:
                # Anything the user painted too (in the extended canvas's coordinates) is repainted.
                painted_mask = imaging.read_mask(painted.read(settings.UPLOAD_MAX_BYTES + 1), canvas.size)
                mask = ImageChops.lighter(mask, painted_mask)
        elif operation in MASKED:
            upload = self.files.get("mask")
            if not upload:
                raise imaging.MaskRejected("Paint a mask over the part of the image you want to change.")
            mask = imaging.read_mask(upload.read(settings.UPLOAD_MAX_BYTES + 1), source.size)
            imaging.check_mask_coverage(mask)
        elif operation == catalog.Operation.REMIX:
            extra["strength"] = cleaned.get("strength") if cleaned.get("strength") is not None else 0.6
        if operation == catalog.Operation.SEARCH_REPLACE:
            if not cleaned.get("search_prompt"):
                raise forms.ValidationError("Say what to find and replace, e.g. “the red car”.")
            extra["search_prompt"] = cleaned["search_prompt"]
        elif operation == catalog.Operation.CONTROL:
            kinds = model.control_kinds
            kind = cleaned.get("control_kind") or kinds[0]
            if kind not in kinds:
                raise forms.ValidationError(f"{model.label} follows a source's {' or '.join(kinds)}, not “{kind}”.")
            strength = cleaned.get("control_strength")
            extra.update(control_kind=kind, control_strength=0.7 if strength is None else strength)
        elif operation == catalog.Operation.STYLE:
            extra["fidelity"] = 0.5 if cleaned.get("fidelity") is None else cleaned["fidelity"]
        result = model.edit_size(canvas.width, canvas.height)
        if result is None:
            raise forms.ValidationError(
                f"The image would be {canvas.width}×{canvas.height}; {model.label} handles at most "
                f"{model.max_edge} pixels a side."
            )
        if (result.width, result.height) != canvas.size:
            canvas = canvas.resize((result.width, result.height), Image.Resampling.LANCZOS)
            mask = mask.resize(canvas.size, Image.Resampling.BILINEAR) if mask else None
        return canvas, mask, result, extra

    def _extension(self, source: Image.Image, cleaned: dict[str, Any]) -> dict[str, int]:
        aspect = (cleaned.get("extend_aspect") or "").strip()
        if aspect:
            if not re.fullmatch(r"\d{1,2}:\d{1,2}", aspect) or "0" in aspect.split(":"):
                raise forms.ValidationError(f"“{aspect}” is not an aspect ratio such as 16:9.")
            left, top, right, bottom = imaging.extension_for_aspect(source.width, source.height, aspect)
        else:
            sides = ("left", "top", "right", "bottom")
            left, top, right, bottom = (cleaned.get(f"extend_{side}") or 0 for side in sides)
        if not any((left, top, right, bottom)):
            raise forms.ValidationError("Say how far to extend the image: pixels on a side, or a target aspect ratio.")
        return {"left": left, "top": top, "right": right, "bottom": bottom}

    def edit_spec(self) -> EditSpec:
        """The validated edit; call only after is_valid()."""
        canvas, mask, result, extra = self.prepared
        return EditSpec(
            operation=catalog.Operation(self.cleaned_data["operation"]),
            canvas=canvas,
            mask=mask,
            result_size=result,
            source_image=self.source_image,
            extra=extra,
            references=self.reference_pngs,
            **self._common(),
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
