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


def _decoded(data: bytes, field: str, fit_to: Size | None = None, *, inside: bool = False) -> Image.Image:
    """The image in RGB. With `fit_to`, made smaller first, in its own mode, when it is larger, so
    a large source never exists twice at full size (decoded, then converted): cropped to that
    size's shape (centred) and scaled to it, or, `inside`, scaled to fit inside it as `_fit` then
    pads it (a masked edit)."""
    try:
        img = imaging.decode(data)
    except imaging.ImageRejected as exc:
        raise Invalid({field: [str(exc)]}) from exc
    if fit_to:
        target = _inside(img.size, fit_to) if inside else (fit_to.width, fit_to.height)
        if not inside and (box := _crop_box(img.width, img.height, fit_to.ratio)) != (0, 0, img.width, img.height):
            img = img.crop(box)
        if img.width * img.height > target[0] * target[1]:
            if img.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F"):
                img = img.convert("RGBA" if "transparency" in img.info or "A" in img.getbands() else "RGB")
            img = imaging.shrink(img, target)
    return img if img.mode == "RGB" else img.convert("RGB")


def _inside(size: tuple[int, int], fit_to: Size) -> tuple[int, int]:
    """The largest size of this shape that fits inside `fit_to`."""
    scale = min(fit_to.width / size[0], fit_to.height / size[1])
    return (
        min(fit_to.width, max(1, round(size[0] * scale))),
        min(fit_to.height, max(1, round(size[1] * scale))),
    )


def _resized(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Smaller a band of rows at a time (imaging.shrink: no full-size intermediate), larger at once."""
    if size[0] * size[1] < img.width * img.height:
        return imaging.shrink(img, size)
    return img.resize(size, Image.Resampling.LANCZOS)


def _crop_box(width: int, height: int, ratio: float) -> tuple[int, int, int, int]:
    """The largest centred box of a W×H image with this shape (width / height)."""
    if width > round(height * ratio):
        keep = max(1, round(height * ratio))
        return (width - keep) // 2, 0, (width - keep) // 2 + keep, height
    keep = min(height, max(1, round(width / ratio)))
    return 0, (height - keep) // 2, width, (height - keep) // 2 + keep


def _fit(canvas: Image.Image, mask: Image.Image | None, size: Size) -> tuple[Image.Image, Image.Image | None]:
    """The canvas at a size the model takes, never stretched. With a mask (inpaint, erase, outpaint),
    it is scaled to fit inside and the margin around it is added to the mask, with an overlap into
    the picture so the seam blends (up to OUTPAINT_OVERLAP, never more than that side's margin), for
    the model to paint (as an outpaint does): nothing of the picture is lost.
    Without one (remix, instruct, variation, control, style), where the model redraws the whole
    picture and bars would show, it is cropped to the size's shape (centred), then scaled."""
    target = (size.width, size.height)
    if mask is None:
        box = _crop_box(canvas.width, canvas.height, size.ratio)
        cropped = canvas.crop(box) if box != (0, 0, canvas.width, canvas.height) else canvas
        return (cropped if cropped.size == target else _resized(cropped, target)), None
    inner = _inside(canvas.size, size)
    if inner != canvas.size:
        canvas = _resized(canvas, inner)
        mask = mask.resize(inner, Image.Resampling.BILINEAR)
    left, top = (size.width - inner[0]) // 2, (size.height - inner[1]) // 2
    right, bottom = size.width - inner[0] - left, size.height - inner[1] - top
    if not any((left, top, right, bottom)):
        return canvas, mask
    fitted, _ = imaging.extend_canvas(canvas, left=left, top=top, right=right, bottom=bottom, overlap=0)
    # Each side's seam reaches into the picture by no more than that side's own margin: a 1 px
    # rounding margin repaints 1 px of what the user did not mask, not a wider side's overlap.
    overlap = imaging.OUTPAINT_OVERLAP
    keep = (
        left + min(overlap, left),
        top + min(overlap, top),
        left + inner[0] - min(overlap, right),
        top + inner[1] - min(overlap, bottom),
    )
    margin = Image.new("L", target, 255)
    if keep[0] < keep[2] and keep[1] < keep[3]:
        margin.paste(0, keep)
    placed = Image.new("L", target, 0)
    placed.paste(mask, (left, top))
    return fitted, ImageChops.lighter(margin, placed)


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
    size: str | Size | None = None,
    **request_fields: Any,
) -> PreparedEdit:
    """Everything an edit needs, checked: Invalid names the field at fault.

    The request is planned and validated from the images' headers first, so every refusal comes
    before a pixel is decoded or a canvas allocated. `size` asks for the result's size (validated
    like any request's); without it the source's shape is fitted to the model. `request_fields` are
    the common ones: prompt, negative_prompt, quality, n, seed, options."""
    try:
        operation = Operation(operation)
    except ValueError:
        raise Invalid({"operation": [f"Unknown operation “{operation}”."]}) from None
    catalog_model = specs.get_model(model, operation=operation)
    width, height = _dimensions(source, "image")
    if size is not None and operation in (Operation.OUTPAINT, Operation.UPSCALE):
        raise Invalid({"size": [f"An {operation.value} makes its own size from the source: leave size out."]})
    settings, size, asked = _plan(catalog_model, operation, width, height, settings, extend_aspect, size)
    request = specs.build(
        model=catalog_model,
        operation=operation,
        size=size,
        edit=settings,
        inputs=specs.Inputs(references=tuple("" for _ in references)),
        **request_fields,
    )
    _check_reference_pixels(references)
    # The source is fitted as it is decoded (a masked edit's scaled to fit inside, its mask read at
    # the source's size, then fitted with it), but for an outpaint, whose canvas is fitted, and an
    # upscale. No name holds the decoded source: an outpaint's canvas is fitted without it.
    early_fit = operation not in (Operation.OUTPAINT, Operation.UPSCALE)
    canvas, edit_mask = _compose(
        operation,
        _decoded(source, "image", fit_to=size if early_fit else None, inside=operation in specs.MASKED),
        mask,
        asked,
        settings.extend,
        source_size=(width, height),
    )
    if operation != Operation.UPSCALE and (size.width, size.height) != canvas.size:
        canvas, edit_mask = _fit(canvas, edit_mask, size)
    refs = tuple(imaging.png_bytes(_decoded(data, "references")) for data in references)
    return PreparedEdit(request, canvas, edit_mask, refs, source_image)


def _dimensions(data: bytes, field: str) -> tuple[int, int]:
    try:
        return imaging.dimensions(data)
    except imaging.ImageRejected as exc:
        raise Invalid({field: [str(exc)]}) from exc


def _plan(
    model: Model,
    operation: Operation,
    width: int,
    height: int,
    settings: EditSettings,
    extend_aspect: str,
    asked_size: str | Size | None = None,
) -> tuple[EditSettings, Size, Extension | None]:
    """The edit's settings and result size from the source's size alone, or the size asked for
    (and, for an outpaint, the extension as asked, before it was grown to the model's grid)."""
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
    elif asked_size is not None:
        size = specs.resolve_size(model, size=asked_size)  # whether the model takes it is the request's to say
        _check_pixels(size, "size")
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
