"""Masks: Atelier's own form (grey, white = change) and each provider's convention, pixel by pixel."""

import io

import numpy as np
import pytest
from PIL import Image

from studio import imaging, specs

pytestmark = pytest.mark.django_db
SIZE = (64, 48)
SQUARE = (16, 8, 40, 32)  # the painted region: x0, y0, x1, y1


def painted_square(size=SIZE, box=SQUARE) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def region(size=SIZE, box=SQUARE) -> np.ndarray:
    inside = np.zeros((size[1], size[0]), bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    return inside


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def png(img: Image.Image) -> bytes:
    return imaging.png_bytes(img)


def test_openai_mask_is_rgba_transparent_exactly_where_painted():
    img = decoded(imaging.mask_for_openai(painted_square()))
    assert img.mode == "RGBA" and img.size == SIZE
    alpha = np.asarray(img.getchannel("A"))
    assert (alpha[region()] == 0).all() and (alpha[~region()] == 255).all()


@pytest.mark.parametrize(
    ("mask_source", "changed", "kept"), [("MASK_IMAGE_WHITE", 255, 0), ("MASK_IMAGE_BLACK", 0, 255)]
)
def test_stability_v1_mask_matches_its_mask_source(mask_source, changed, kept):
    data, source = imaging.mask_for_stability_v1(painted_square(), mask_source)
    pixels = np.asarray(decoded(data).convert("L"))
    assert source == mask_source
    assert (pixels[region()] == changed).all() and (pixels[~region()] == kept).all()


def test_stability_v2_and_flux_fill_masks_are_white_where_painted():
    pixels = np.asarray(decoded(imaging.mask_white_changes(painted_square())).convert("L"))
    assert (pixels[region()] == 255).all() and (pixels[~region()] == 0).all()


def test_dall_e_2_needs_a_square_and_gets_rgba_under_4_mb():
    with pytest.raises(imaging.MaskRejected, match="square"):
        imaging.dall_e_2_edit(Image.new("RGB", SIZE), painted_square())
    image, mask = imaging.dall_e_2_edit(Image.new("RGB", (48, 48), (9, 9, 9)), painted_square((48, 48), (8, 8, 24, 24)))
    assert decoded(image).mode == "RGBA" and len(image) < imaging.DALL_E_2_MAX_BYTES
    alpha = np.asarray(decoded(mask).getchannel("A"))
    assert (alpha[region((48, 48), (8, 8, 24, 24))] == 0).all() and (
        alpha[~region((48, 48), (8, 8, 24, 24))] == 255
    ).all()


def test_read_mask_accepts_white_on_black_and_opaque_on_transparent():
    assert np.array_equal(np.asarray(imaging.read_mask(png(painted_square()), SIZE)), np.asarray(painted_square()))
    rgba = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), SQUARE)
    assert np.array_equal(np.asarray(imaging.read_mask(png(rgba), SIZE)), np.asarray(painted_square()))


def test_mask_of_another_size_is_rejected_with_both_sizes():
    with pytest.raises(imaging.MaskRejected, match="mask is 64×48 but the image is 32×32"):
        imaging.read_mask(png(painted_square()), (32, 32))


def test_empty_and_full_masks_are_rejected():
    with pytest.raises(imaging.MaskRejected, match="empty"):
        imaging.check_mask_coverage(Image.new("L", SIZE, 0))
    with pytest.raises(imaging.MaskRejected, match="whole image"):
        imaging.check_mask_coverage(Image.new("L", SIZE, 255))
    imaging.check_mask_coverage(painted_square())


def test_a_feathered_edge_stays_grey():
    mask = painted_square()
    mask.putpixel((10, 10), 100)
    assert imaging.read_mask(png(mask), SIZE).getpixel((10, 10)) == 100


def test_extend_canvas_places_the_source_and_masks_new_area_plus_overlap():
    source = Image.new("RGB", (100, 80), (200, 10, 10))
    canvas, mask = imaging.extend_canvas(source, left=0, top=20, right=50, bottom=0, overlap=8)
    assert canvas.size == (150, 100) and mask.size == (150, 100)
    assert canvas.getpixel((0, 20)) == (200, 10, 10) and canvas.getpixel((99, 99)) == (200, 10, 10)
    m = np.asarray(mask)
    assert (m[:28, :] == 255).all()  # new top strip + 8 px overlap
    assert (m[:, 92:] == 255).all()  # new right strip + 8 px overlap
    assert (m[28:, :92] == 0).all()  # the rest of the original is kept


@pytest.mark.parametrize(
    ("size", "aspect", "expected"),
    [
        ((1024, 1024), "16:9", (398, 0, 398, 0)),
        ((1024, 1024), "9:16", (0, 398, 0, 398)),
        ((1000, 500), "1:1", (0, 250, 0, 250)),
    ],
)
def test_extension_for_aspect(size, aspect, expected):
    a, b = specs.parse_aspect(aspect)
    extension = imaging.extension_for_aspect(*size, (a, b))
    assert extension == expected
    left, top, right, bottom = extension
    w, h = size[0] + left + right, size[1] + top + bottom
    assert abs(w / h - a / b) < 0.01
