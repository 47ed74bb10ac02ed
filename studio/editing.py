"""Edit inputs: decode the source, build the canvas and mask, fit them to the model, and return the
validated request together with the exact pixels the provider will receive."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image, ImageChops

from studio import imaging, specs
from studio.catalog import Model, Operation, Size
from studio.specs import EditSettings, Extension, ImageRequest, Invalid

DEFAULT_STRENGTH = 0.6
DEFAULT_CONTROL_STRENGTH = 0.7
DEFAULT_FIDELITY = 0.5


@dataclass(frozen=True)
class PreparedEdit:
    """A validated edit request (its inputs not stored yet) and the pixels to store for it."""

    request: ImageRequest
    canvas: Image.Image
    mask: Image.Image | None
    references: tuple[bytes, ...]
    source_image: Any = None  # gallery.Image the edit starts from, for the lineage


def _decoded(data: bytes, field: str) -> Image.Image:
    try:
        return imaging.decode(data).convert("RGB")
    except imaging.ImageRejected as exc:
        raise Invalid({field: [str(exc)]}) from exc


def _mask(data: bytes | None, size: tuple[int, int], *, required: bool) -> Image.Image | None:
    if not data:
        if required:
            raise Invalid({"mask": ["Paint a mask over the part of the image you want to change."]})
        return None
    try:
        mask = imaging.read_mask(data, size)
        if required:
            imaging.check_mask_coverage(mask)
    except (imaging.MaskRejected, imaging.ImageRejected) as exc:
        raise Invalid({"mask": [str(exc)]}) from exc
    return mask


def _painted(data: bytes | None, source: tuple[int, int], asked: Extension, extend: Extension) -> Image.Image | None:
    """A mask painted on the extended canvas: the editor paints on the canvas as asked, which may
    be a few pixels smaller than the one fitted to the model's grid; it is placed where it was."""
    if not data:
        return None
    asked_size = (source[0] + asked.left + asked.right, source[1] + asked.top + asked.bottom)
    fitted_size = (source[0] + extend.left + extend.right, source[1] + extend.top + extend.bottom)
    try:
        with Image.open(io.BytesIO(data)) as header:
            painted_on = header.size
    except (OSError, ValueError):
        painted_on = fitted_size  # read_mask says what is wrong with it
    if painted_on != asked_size or asked_size == fitted_size:
        return _mask(data, fitted_size, required=False)
    placed = Image.new("L", fitted_size, 0)
    placed.paste(_mask(data, asked_size, required=False), (extend.left - asked.left, extend.top - asked.top))
    return placed


def _references(model: Model, operation: Operation, uploads: Sequence[bytes]) -> tuple[bytes, ...]:
    """Reference images as PNGs; the count is checked before any is decoded."""
    if not uploads:
        return ()
    if operation not in specs.WITH_REFERENCES or not model.max_references:
        raise Invalid({"references": [f"{model.label} does not take reference images for this operation."]})
    if len(uploads) > model.max_references:
        raise Invalid({"references": [f"{model.label} takes at most {model.max_references} reference images."]})
    return tuple(imaging.png_bytes(_decoded(data, "references")) for data in uploads)


def extension_for(source: Size, extend: Extension | None, aspect: str) -> Extension:
    """The pixels to add: as given, or enough to reach a target aspect ratio."""
    if aspect:
        if specs.parse_aspect(aspect) is None:
            raise Invalid({"extend": [f"“{aspect}” is not an aspect ratio such as 16:9 (from 1:4 to 4:1)."]})
        return Extension(*imaging.extension_for_aspect(source.width, source.height, aspect))
    if extend is None or not extend.any:
        raise Invalid({"extend": ["Say how far to extend the image: pixels on a side, or a target aspect ratio."]})
    return extend


def _grow(before: int, after: int, extra: int) -> tuple[int, int]:
    """Share `extra` pixels between the two sides that are extended (after, if neither is)."""
    if before and after:
        return before + extra // 2, after + extra - extra // 2
    return (before + extra, after) if before else (before, after + extra)


def _fit_extension(model: Model, width: int, height: int, extend: Extension) -> Extension:
    """Grow the extension so the canvas lands on the model's size grid: the source pixels are
    never resampled, so a provider that extends the original itself gets them exactly."""
    step = model.size_rule.step if model.size_rule else 1
    left, right = _grow(extend.left, extend.right, -(width + extend.left + extend.right) % step)
    top, bottom = _grow(extend.top, extend.bottom, -(height + extend.top + extend.bottom) % step)
    return Extension(left, top, right, bottom)


def prepare(
    *,
    model: str,
    operation: Operation | str,
    source: bytes,
    source_image: Any = None,
    mask: bytes | None = None,
    references: Sequence[bytes] = (),
    settings: EditSettings = specs.NO_EDIT,
    extend_aspect: str = "",
    **request_fields: Any,
) -> PreparedEdit:
    """Everything an edit needs, checked: Invalid names the field at fault.

    `request_fields` are the common ones: prompt, negative_prompt, quality, n, seed, options."""
    try:
        operation = Operation(operation)
    except ValueError:
        raise Invalid({"operation": [f"Unknown operation “{operation}”."]}) from None
    catalog_model = specs.get_model(model, operation=operation)
    refs = _references(catalog_model, operation, references)
    image = _decoded(source, "image")
    canvas, edit_mask = image, None
    if operation == Operation.UPSCALE:
        return _upscale(catalog_model, image, settings, refs, source_image, request_fields)
    if operation == Operation.OUTPAINT:
        asked = extension_for(Size.of(image.width, image.height), settings.extend, extend_aspect)
        extend = _fit_extension(catalog_model, image.width, image.height, asked)
        target = Size.of(image.width + extend.left + extend.right, image.height + extend.top + extend.bottom)
        # Checked before the canvas is allocated: a huge extension costs nothing to refuse.
        if problem := specs.size_problem(catalog_model, operation, target):
            raise Invalid({"extend": [problem]})
        settings = replace(settings, extend=extend)
        canvas, edit_mask = imaging.extend_canvas(
            image, left=extend.left, top=extend.top, right=extend.right, bottom=extend.bottom
        )
        if painted := _painted(mask, image.size, asked, extend):
            # What the user painted over the picture is repainted too, with the new area.
            edit_mask = ImageChops.lighter(edit_mask, painted)
    elif operation in specs.MASKED:
        edit_mask = _mask(mask, image.size, required=True)
    settings = _defaults(catalog_model, operation, settings)
    size = Size.of(*canvas.size) if operation == Operation.OUTPAINT else catalog_model.fit(*canvas.size)
    if size is None:
        raise Invalid({"size": [f"{catalog_model.label} cannot take a {canvas.width}×{canvas.height} image."]})
    if (size.width, size.height) != canvas.size:
        canvas = canvas.resize((size.width, size.height), Image.Resampling.LANCZOS)
        edit_mask = edit_mask.resize(canvas.size, Image.Resampling.BILINEAR) if edit_mask else None
    request = specs.build(
        model=catalog_model,
        operation=operation,
        size=size,
        edit=settings,
        inputs=specs.Inputs(references=tuple("" for _ in refs)),
        **request_fields,
    )
    return PreparedEdit(request, canvas, edit_mask, refs, source_image)


def _defaults(model: Model, operation: Operation, settings: EditSettings) -> EditSettings:
    """The operation's own settings, defaulted where the caller left them out; others cleared."""
    return EditSettings(
        strength=(DEFAULT_STRENGTH if settings.strength is None else settings.strength)
        if operation == Operation.REMIX
        else None,
        extend=settings.extend if operation == Operation.OUTPAINT else None,
        search_prompt=settings.search_prompt if operation == Operation.SEARCH_REPLACE else "",
        control_kind=(settings.control_kind or (model.control_kinds or ("",))[0])
        if operation == Operation.CONTROL
        else "",
        control_strength=(DEFAULT_CONTROL_STRENGTH if settings.control_strength is None else settings.control_strength)
        if operation == Operation.CONTROL
        else None,
        fidelity=(DEFAULT_FIDELITY if settings.fidelity is None else settings.fidelity)
        if operation == Operation.STYLE
        else None,
    )


def _upscale(
    model: Model,
    image: Image.Image,
    settings: EditSettings,
    refs: tuple[bytes, ...],
    source_image: Any,
    request_fields: Mapping[str, Any],
) -> PreparedEdit:
    factor = settings.factor or (model.upscale.factors[0] if model.upscale else None)
    size = Size.of(image.width * (factor or 1), image.height * (factor or 1))
    request = specs.build(
        model=model,
        operation=Operation.UPSCALE,
        size=size,
        edit=EditSettings(factor=factor),
        **request_fields,
    )
    return PreparedEdit(request, image, None, refs, source_image)
