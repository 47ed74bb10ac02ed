"""Edit inputs: decode the source, build the canvas and mask, fit them to the model, and return the
validated request together with the exact pixels the provider will receive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, replace
from typing import Any

from django.conf import settings as django_settings
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


def _decoded(data: bytes, field: str, fit_to: Size | None = None) -> Image.Image:
    """The image in RGB; made smaller first, in its own mode, when it is fitted down, so a large
    source never exists twice at full size (decoded, then converted)."""
    try:
        img = imaging.decode(data)
    except imaging.ImageRejected as exc:
        raise Invalid({field: [str(exc)]}) from exc
    if fit_to and img.width * img.height > fit_to.pixels:
        if img.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F"):
            img = img.convert("RGBA" if "transparency" in img.info or "A" in img.getbands() else "RGB")
        img = imaging.shrink(img, (fit_to.width, fit_to.height))
    return img if img.mode == "RGB" else img.convert("RGB")


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
        painted_on = imaging.dimensions(data)
    except imaging.ImageRejected as exc:
        raise Invalid({"mask": [str(exc)]}) from exc
    if painted_on != asked_size or asked_size == fitted_size:
        return _mask(data, fitted_size, required=False)
    placed = Image.new("L", fitted_size, 0)
    placed.paste(_mask(data, asked_size, required=False), (extend.left - asked.left, extend.top - asked.top))
    return placed


def _check_reference_pixels(uploads: Sequence[bytes]) -> None:
    """One pixel budget for all the reference images together, from their headers alone."""
    pixels = sum(w * h for w, h in (_dimensions(data, "references") for data in uploads))
    if pixels > django_settings.IMAGE_MAX_PIXELS:
        limit = django_settings.IMAGE_MAX_PIXELS / 1e6
        raise Invalid({"references": [f"The reference images are {pixels / 1e6:.0f} megapixels together; "
                                      f"the limit is {limit:.0f}."]})  # fmt: skip


def extension_for(source: Size, extend: Extension | None, aspect: str) -> Extension:
    """The pixels to add: as given, or enough to reach a target aspect ratio (none at all is
    specs' to refuse, with the rest)."""
    if aspect:
        if (parsed := specs.parse_aspect(aspect)) is None:
            raise Invalid({"extend": [f"“{aspect}” is not an aspect ratio such as 16:9 (from 1:4 to 4:1)."]})
        return Extension(*imaging.extension_for_aspect(source.width, source.height, parsed))
    return extend or Extension()


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

    The request is planned and validated from the images' headers first, so every refusal comes
    before a pixel is decoded or a canvas allocated. `request_fields` are the common ones:
    prompt, negative_prompt, quality, n, seed, options."""
    try:
        operation = Operation(operation)
    except ValueError:
        raise Invalid({"operation": [f"Unknown operation “{operation}”."]}) from None
    catalog_model = specs.get_model(model, operation=operation)
    width, height = _dimensions(source, "image")
    settings, size, asked = _plan(catalog_model, operation, width, height, settings, extend_aspect)
    request = specs.build(
        model=catalog_model,
        operation=operation,
        size=size,
        edit=settings,
        inputs=specs.Inputs(references=tuple("" for _ in references)),
        **request_fields,
    )
    _check_reference_pixels(references)
    # The source is fitted as it is decoded (a mask is read at its size, then fitted with it), but
    # for an outpaint, whose canvas is fitted, and an upscale. No name holds the decoded source: an
    # outpaint's canvas is fitted without it.
    early_fit = operation not in (Operation.OUTPAINT, Operation.UPSCALE)
    canvas, edit_mask = _compose(operation, _decoded(source, "image", fit_to=size if early_fit else None), mask,
                                 asked, settings.extend, source_size=(width, height))  # fmt: skip
    if operation != Operation.UPSCALE and (size.width, size.height) != canvas.size:
        canvas = imaging.shrink(canvas, (size.width, size.height))
        edit_mask = edit_mask.resize(canvas.size, Image.Resampling.BILINEAR) if edit_mask else None
    refs = tuple(imaging.png_bytes(_decoded(data, "references")) for data in references)
    return PreparedEdit(request, canvas, edit_mask, refs, source_image)


def _dimensions(data: bytes, field: str) -> tuple[int, int]:
    try:
        return imaging.dimensions(data)
    except imaging.ImageRejected as exc:
        raise Invalid({field: [str(exc)]}) from exc


def _plan(
    model: Model, operation: Operation, width: int, height: int, settings: EditSettings, extend_aspect: str
) -> tuple[EditSettings, Size, Extension | None]:
    """The edit's settings and result size from the source's size alone (and, for an outpaint,
    the extension as asked, before it was grown to the model's grid)."""
    if operation == Operation.UPSCALE:
        default = model.upscale.factors[0] if model.upscale else 1
        factor = default if settings.factor is None else settings.factor
        # A factor the model does not take is the request's validation to refuse, by name.
        scale = factor if model.upscale and factor in model.upscale.factors else 1
        return EditSettings(factor=factor), Size.of(width * scale, height * scale), None
    asked = None
    if operation == Operation.OUTPAINT:
        asked = extension_for(Size.of(width, height), settings.extend, extend_aspect)
        if not asked.any or min(astuple(asked)) < 0 or max(astuple(asked)) > model.max_extend:
            # Nothing to add, or sides out of the model's range: the request's validation says so
            # (at a size the model takes, so that is the only thing it says).
            size = model.fit(width, height) or Size.of(width, height)
            return _defaults(model, operation, replace(settings, extend=asked)), size, asked
        extend = _fit_extension(model, width, height, asked)
        settings = replace(settings, extend=extend)
        size = Size.of(width + extend.left + extend.right, height + extend.top + extend.bottom)
        _check_pixels(size, "extend")  # the canvas is made at this size, whatever it is fitted to
        problem = specs.size_problem(model, operation, size)
        if problem and not model.extends_original:
            # The provider gets the whole canvas: it is fitted to a size the model takes.
            size = model.fit(size.width, size.height) or size
            problem = specs.size_problem(model, operation, size)
        if problem:
            raise Invalid({"extend": [problem]})
    elif (fitted := model.fit(width, height)) is None:
        raise Invalid({"size": [f"{model.label} cannot take a {width}×{height} image."]})
    else:
        size = fitted
        _check_pixels(size, "size")
    return _defaults(model, operation, settings), size, asked


def _check_pixels(size: Size, field: str) -> None:
    if size.pixels > django_settings.IMAGE_MAX_PIXELS:
        limit = django_settings.IMAGE_MAX_PIXELS / 1e6
        message = f"The image would be {size.width}×{size.height}; the limit is {limit:.0f} megapixels."
        raise Invalid({field: [message]})


def _compose(
    operation: Operation,
    image: Image.Image,
    mask: bytes | None,
    asked: Extension | None,
    extend: Extension | None,
    *,
    source_size: tuple[int, int],
) -> tuple[Image.Image, Image.Image | None]:
    """The pixels the provider receives: the source (on its extended canvas) and the mask, at the
    source's size or, when the source was fitted as it was decoded, at the fitted size."""
    if operation == Operation.OUTPAINT:
        assert asked is not None and extend is not None  # planned
        canvas, edit_mask = imaging.extend_canvas(
            image, left=extend.left, top=extend.top, right=extend.right, bottom=extend.bottom
        )
        del image  # its pixels are on the canvas: not held twice while the painted mask is read
        if painted := _painted(mask, source_size, asked, extend):
            # What the user painted over the picture is repainted too, with the new area.
            edit_mask = ImageChops.lighter(edit_mask, painted)
        return canvas, edit_mask
    if operation in specs.MASKED:
        edit_mask = _mask(mask, source_size, required=True)
        if edit_mask is not None and edit_mask.size != image.size:
            edit_mask = edit_mask.resize(image.size, Image.Resampling.BILINEAR)
        return image, edit_mask
    return image, None


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
