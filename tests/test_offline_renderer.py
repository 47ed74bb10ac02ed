"""The offline renderer: deterministic, prompt-aware, and able to do every studio operation."""

import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from studio import catalog, specs
from studio.catalog import Operation, Size
from studio.providers import offline
from studio.providers.base import ProviderError
from tests.factories import make_request


def pixels(img):
    return np.asarray(img.convert("RGB"), dtype=np.int16)


def request(operation=Operation.GENERATE, *, width=256, height=192, image=None, mask=None, strength=None, **fields):
    """A request as the studio would send it, at a small size (the renderer's tests stay fast):
    the size is set on the validated value, since the catalog's presets are all near a megapixel."""
    edit = {
        Operation.REMIX: specs.EditSettings(strength=strength),
        Operation.UPSCALE: specs.EditSettings(factor=2),
        Operation.OUTPAINT: specs.EditSettings(extend=specs.Extension(right=64)),
    }.get(operation, specs.NO_EDIT)
    fields = {"prompt": "a sunset over the sea", "quality": "standard", "seed": 11, "edit": edit, **fields}
    if operation == Operation.GENERATE:
        fields["size"] = "1024x1024"
    return replace(make_request("offline", operation, source=image, mask=mask, **fields), size=Size.of(width, height))


def test_same_prompt_and_seed_give_identical_pixels():
    a = offline.generate(request()).images[0].data
    b = offline.generate(request()).images[0].data
    assert a == b


def test_different_seed_or_prompt_changes_the_image():
    base = pixels(offline.render("a sunset over the sea", "", 256, 256, 1, "standard"))
    other_seed = pixels(offline.render("a sunset over the sea", "", 256, 256, 2, "standard"))
    other_prompt = pixels(offline.render("a neon city skyline at night", "", 256, 256, 1, "standard"))
    assert np.abs(base - other_seed).mean() > 1
    # A different prompt changes palette and composition, not just a few pixels.
    assert np.abs(base - other_prompt).mean() > 30


def test_prompt_words_pick_the_palette():
    assert offline.palette("red")[0] == offline.COLOR_WORDS["red"]
    assert offline.palette("ocean")[:3] == list(offline.THEME_PALETTES["ocean"])


def test_negative_prompt_removes_elements():
    assert "sun" in offline.elements("a sunny beach")
    assert "sun" not in offline.elements("a sunny beach", "sun")


@pytest.mark.parametrize("size", catalog.MODELS["offline"].sizes, ids=lambda s: s.value)
def test_renders_every_catalog_size(size):
    data = offline.generate(request(width=size.width, height=size.height, quality="draft")).images[0].data
    assert Image.open(io.BytesIO(data)).size == (size.width, size.height)


def test_count_gives_consecutive_seeds():
    result = offline.generate(request(n=3))
    assert [i.seed for i in result.images] == [11, 12, 13]
    assert len({i.data for i in result.images}) == 3


def png(img):
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_inpaint_changes_only_the_masked_square():
    source = Image.new("RGB", (128, 128), (10, 200, 30))
    mask = Image.new("L", (128, 128), 0)
    mask.paste(255, (32, 32, 96, 96))
    result = Image.open(
        io.BytesIO(
            offline.generate(request(Operation.EDIT, image=png(source), mask=png(mask), width=128, height=128))
            .images[0]
            .data
        )
    )
    diff = np.abs(pixels(result) - pixels(source)).sum(axis=2)
    outside = np.ones((128, 128), bool)
    outside[32:96, 32:96] = False
    assert diff[outside].max() == 0
    assert (diff[40:88, 40:88] > 0).mean() > 0.9


def test_outpaint_fills_the_new_strip_and_keeps_the_original():
    source = Image.new("RGB", (192, 128), (10, 200, 30))
    source.paste((0, 0, 0), (128, 0, 192, 128))  # the extension area, before painting
    mask = Image.new("L", (192, 128), 0)
    mask.paste(255, (128, 0, 192, 128))
    result = Image.open(
        io.BytesIO(
            offline.generate(request(Operation.OUTPAINT, image=png(source), mask=png(mask), width=192, height=128))
            .images[0]
            .data
        )
    )
    assert (pixels(result)[:, :128] == pixels(source)[:, :128]).all()
    assert (pixels(result)[:, 140:] != 0).any()


def test_variation_keeps_size_and_resembles_the_source():
    source = offline.render("a cat in a flower garden", "", 128, 128, 3, "standard")
    result = Image.open(io.BytesIO(offline.generate(request(Operation.VARIATION, image=png(source))).images[0].data))
    unrelated = offline.render("neon city", "", 128, 128, 9, "standard")
    assert result.size == source.size
    distance = np.abs(pixels(result) - pixels(source)).mean()
    assert 0 < distance < np.abs(pixels(unrelated) - pixels(source)).mean()


def test_remix_strength_controls_distance_from_source():
    source = Image.new("RGB", (64, 64), (128, 128, 128))

    def remix(strength):
        data = offline.generate(request(Operation.REMIX, image=png(source), strength=strength)).images[0].data
        return np.abs(pixels(Image.open(io.BytesIO(data))) - pixels(source)).mean()

    assert remix(0.0) == 0
    assert remix(0.2) < remix(0.8)


def test_upscale_doubles_the_size():
    source = offline.render("hills", "", 100, 60, 1, "draft")
    result = offline.generate(request(Operation.UPSCALE, image=png(source)))
    assert Image.open(io.BytesIO(result.images[0].data)).size == (200, 120)


def test_edit_without_a_mask_is_an_invalid_request():
    edit = request(Operation.EDIT, image=png(Image.new("RGB", (64, 64))), width=64, height=64)
    with pytest.raises(ProviderError) as exc:
        offline.generate(replace(edit, inputs=replace(edit.inputs, mask="")))
    assert exc.value.kind == "invalid_request"
