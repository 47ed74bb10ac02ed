"""The editor's server side: operations, lineage, and every bad input as a clear 4xx."""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from studio import editing, imaging, jobs, providers
from studio.models import Job
from tests.factories import make_image, make_job, png_bytes

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def source(user):
    image = make_image(make_job(owner=user, status="succeeded"))  # a 64x64 PNG
    return image


def mask_file(size=(64, 64), box=(16, 16, 48, 48), name="mask.png"):
    mask = PILImage.new("L", size, 0)
    if box:
        mask.paste(255, box)
    return SimpleUploadedFile(name, imaging.png_bytes(mask), content_type="image/png")


def submit(client, **fields):
    data = {"model": "offline", "quality": "draft", "n": "1", "prompt": "a red balloon"}
    data.update(fields)
    return client.post(reverse("studio:editor_submit"), data, **HTMX)


def stored(name):
    with default_storage.open(name) as f:
        return PILImage.open(io.BytesIO(f.read())).copy()


def test_editor_opens_on_a_gallery_image_with_the_operations(alice, source):
    html = alice.get(reverse("studio:editor_image", args=[source.pk])).content.decode()
    assert f'data-src="/gallery/{source.pk}/image/"' in html
    for label in ("Inpaint", "Outpaint", "Remix", "Variation", "Upscale"):
        assert label in html
    assert "mask-editor.js" in html


def test_editor_without_an_image_asks_for_an_upload(alice):
    html = alice.get(reverse("studio:editor")).content.decode()
    assert 'type="file" name="image"' in html and "Choose an image" in html


def test_only_models_that_can_do_the_operation_are_offered(alice):
    html = alice.get(reverse("studio:editor_fields"), {"operation": "upscale"}, **HTMX).content.decode()
    assert 'value="offline"' in html and 'value="sdxl-1.0"' in html and 'value="dall-e-3"' not in html
    assert '<option value="4">4×</option>' in html
    html = alice.get(reverse("studio:editor_fields"), {"operation": "outpaint"}, **HTMX).content.decode()
    assert 'value="sdxl-1.0"' not in html and "Extend by pixels" in html


def test_inpaint_stores_lineage_and_changes_only_the_mask(alice, user, source, run_jobs_inline):
    with run_jobs_inline(execute=True):
        response = submit(alice, operation="edit", source=source.pk, mask=mask_file())
    assert response.status_code == 200
    job = Job.objects.get(operation="edit")
    assert job.source_image == source and job.mask_file and job.source_file
    assert np.asarray(stored(job.mask_file))[16:48, 16:48].min() == 255
    assert job.status == "succeeded", job.error_message
    result = np.asarray(stored(job.images.get().file).convert("RGB"), dtype=int)
    original = np.asarray(stored(source.file).convert("RGB"), dtype=int)
    outside = np.ones((64, 64), bool)
    outside[16:48, 16:48] = False
    assert (result[outside] == original[outside]).all() and (result[~outside] != original[~outside]).any()
    detail = alice.get(reverse("gallery:detail", args=[source.pk])).content.decode()
    assert "Made from this image" in detail and f"/gallery/{job.images.get().pk}/" in detail
    child = alice.get(reverse("gallery:detail", args=[job.images.get().pk])).content.decode()
    assert "Made from" in child and f"/gallery/{source.pk}/thumbnail/" in child
    assert alice.get(reverse("gallery:mask", args=[job.images.get().pk])).status_code == 200


def test_outpaint_sends_the_extended_canvas_with_the_new_strip_masked(alice, source, run_jobs_inline):
    with run_jobs_inline(execute=True):
        submit(alice, operation="outpaint", source=source.pk, extend_right="40", extend_top="8")
    job = Job.objects.get(operation="outpaint")
    assert (job.params["width"], job.params["height"]) == (104, 72)
    assert stored(job.source_file).size == (104, 72)
    mask = np.asarray(stored(job.mask_file))
    overlap = imaging.OUTPAINT_OVERLAP
    assert (mask[:, 64 - overlap :] == 255).all() and (mask[: 8 + overlap, :] == 255).all()
    assert (mask[8 + overlap :, : 64 - overlap] == 0).all()
    assert job.images.get().width == 104


def test_outpaint_lands_on_the_models_grid_and_keeps_what_the_user_painted(alice, source, run_jobs_inline):
    # 64 + 37 = 101 is off the offline renderer's 8 px grid: the canvas grows to 104 on the
    # extended side, and a mask painted on the 101 px canvas the editor showed is placed as painted.
    with run_jobs_inline(execute=True):
        submit(
            alice, operation="outpaint", source=source.pk, extend_right="37",
            mask=mask_file(size=(101, 64), box=(4, 4, 12, 12)),
        )  # fmt: skip
    job = Job.objects.get(operation="outpaint")
    assert job.params["edit"]["extend"] == {"left": 0, "top": 0, "right": 40, "bottom": 0}
    mask = np.asarray(stored(job.mask_file))
    assert mask.shape == (64, 104) and (mask[4:12, 4:12] == 255).all() and (mask[20:40, 0:20] == 0).all()
    assert (np.asarray(stored(job.source_file))[:, :64] == np.asarray(stored(source.file).convert("RGB"))).all()
    assert job.status == "succeeded"


def test_outpaint_to_an_aspect_ratio(alice, source, run_jobs_inline):
    with run_jobs_inline(execute=True):
        submit(alice, operation="outpaint", source=source.pk, extend_aspect="16:9")
    assert Job.objects.get(operation="outpaint").params["edit"]["extend"] == {
        "left": 28,
        "top": 0,
        "right": 28,
        "bottom": 0,
    }


def test_remix_variation_and_upscale(alice, source, run_jobs_inline):
    with run_jobs_inline(execute=True):
        submit(alice, operation="remix", source=source.pk, strength="0.3")
        submit(alice, operation="variation", source=source.pk, prompt="")
        submit(alice, operation="upscale", source=source.pk, prompt="", factor="4")
    jobs = {job.operation: job for job in Job.objects.all()}
    assert jobs["remix"].params["edit"]["strength"] == 0.3
    assert all(job.status == "succeeded" for job in jobs.values()), [j.error_message for j in jobs.values()]
    assert jobs["upscale"].images.get().width == 256 and not jobs["upscale"].mask_file


def test_an_upload_can_be_edited(alice, run_jobs_inline):
    upload = SimpleUploadedFile("mine.png", png_bytes(64, 64), content_type="image/png")
    with run_jobs_inline(execute=True):
        submit(alice, operation="edit", image=upload, mask=mask_file())
    job = Job.objects.get()
    assert job.source_image is None and job.status == "succeeded"


def test_fixed_size_models_get_the_nearest_size(settings, monkeypatch):
    from studio import catalog

    assert catalog.MODELS["sdxl-1.0"].fit(1000, 560).value == "1344x768"
    assert catalog.MODELS["offline"].fit(1001, 559).value == "1000x560"
    # Past the largest edge, an input is scaled down to fit, keeping its shape.
    assert catalog.MODELS["offline"].fit(5000, 100).value == "4096x80"
    # GPT Image 2 takes at least 655,360 pixels: a 640×480 photo is scaled up, in shape.
    fitted = catalog.MODELS["gpt-image-2"].fit(640, 480)
    assert fitted.pixels >= 655_360 and fitted.width % 16 == 0 and fitted.height % 16 == 0
    assert abs(fitted.ratio - 4 / 3) < 0.02


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"operation": "edit", "mask": "WRONG_SIZE"}, "mask is 32×32 but the image is 64×64"),
        ({"operation": "edit", "mask": "EMPTY"}, "The mask is empty"),
        ({"operation": "edit", "mask": "FULL"}, "covers the whole image"),
        ({"operation": "edit"}, "Paint a mask"),
        ({"operation": "edit", "mask": "OK", "prompt": ""}, "Write a prompt"),
        ({"operation": "outpaint"}, "Say how far to extend"),
        ({"operation": "outpaint", "extend_right": "5000"}, "extends each side by 0 to 4096 pixels"),
        ({"operation": "outpaint", "extend_left": "-8"}, "extends each side by 0 to 4096 pixels"),
        ({"operation": "upscale", "factor": "3"}, "Select a valid choice"),
        ({"operation": "outpaint", "extend_aspect": "wide"}, "is not an aspect ratio"),
    ],
)
def test_bad_input_is_422_with_a_message_and_no_job(alice, source, fields, message):
    masks = {
        "WRONG_SIZE": mask_file((32, 32)),
        "EMPTY": mask_file(box=None),
        "FULL": mask_file(box=(0, 0, 64, 64)),
        "OK": mask_file(),
    }
    if "mask" in fields:
        fields["mask"] = masks[fields["mask"]]
    response = submit(alice, source=source.pk, **fields)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert response["HX-Retarget"] == "#edit-fields"
    assert not Job.objects.exclude(pk=source.job_id).exists()


def test_an_upload_that_is_not_an_image_or_too_large(alice, settings):
    response = submit(alice, operation="variation", image=SimpleUploadedFile("x.png", b"nope"))
    assert response.status_code == 422 and "not an image Atelier can read" in response.content.decode()
    settings.UPLOAD_MAX_BYTES = 100
    response = submit(alice, operation="variation", image=SimpleUploadedFile("x.png", png_bytes(64, 64)))
    assert response.status_code == 422 and "the limit is" in response.content.decode()


def test_an_operation_the_model_cannot_do(alice, source, settings, monkeypatch):
    monkeypatch.setitem(providers._IMPLEMENTED, "stability", object())
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "stability": {"api_key": "k", "base_url": "x"}}
    response = submit(alice, operation="outpaint", source=source.pk, model="sdxl-1.0", extend_right="8")
    assert response.status_code == 422 and "Stable Diffusion XL 1.0 cannot outpaint" in response.content.decode()


def test_detail_page_offers_editing_actions(alice, source):
    html = alice.get(reverse("gallery:detail", args=[source.pk])).content.decode()
    assert "Open in editor" in html and "Upscale 2×" in html and "Vary" in html and "Outpaint…" in html


def test_quick_actions_work_without_javascript(alice, source, run_jobs_inline):
    with run_jobs_inline(execute=True):
        response = alice.post(
            reverse("studio:editor_submit"),
            {"source": source.pk, "operation": "variation", "model": "offline", "n": "1", "quality": "draft"},
        )
    job = Job.objects.get(operation="variation")
    assert response.status_code == 302 and response["Location"] == reverse("studio:job", args=[job.pk])


@pytest.fixture
def stability(stability_emulator):
    return stability_emulator


CORE = {"model": "stable-image-core", "quality": "standard", "opt_output_format": "png", "opt_style_preset": "none"}


def test_new_operations_through_the_editor_reach_stability(alice, source, stability, run_jobs_inline):
    with run_jobs_inline(execute=True):
        submit(
            alice,
            **CORE,
            operation="replace",
            source=source.pk,
            search_prompt="the sky",
        )
        submit(
            alice,
            **CORE,
            operation="control",
            source=source.pk,
            control_kind="sketch",
            control_strength="0.5",
        )
        submit(alice, **CORE, operation="style", source=source.pk, fidelity="0.8")
        submit(
            alice,
            **CORE,
            operation="erase",
            source=source.pk,
            prompt="",
            mask=mask_file(),
        )
        submit(
            alice,
            **CORE,
            operation="outpaint",
            source=source.pk,
            extend_right="32",
        )
    jobs = {job.operation: job for job in Job.objects.exclude(pk=source.job_id)}
    assert {op: j.status for op, j in jobs.items()} == dict.fromkeys(
        ["replace", "control", "style", "erase", "outpaint"], "succeeded"
    )
    assert jobs["replace"].params["edit"]["search_prompt"] == "the sky"
    assert jobs["control"].params["edit"]["control_kind"] == "sketch"
    paths = [r.path for r in stability.requests]
    for path in ("edit/search-and-replace", "control/sketch", "control/style", "edit/erase", "edit/outpaint"):
        assert f"/v2beta/stable-image/{path}" in paths
    assert jobs["outpaint"].images.get().width == 96


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"operation": "replace"}, "Say what to find and replace"),
        ({"operation": "control", "control_kind": "depth"}, "follows a source&#x27;s structure or sketch"),
        ({"operation": "style", "prompt": ""}, "Write a prompt"),
    ],
)
def test_new_operations_explain_bad_input(alice, source, stability, fields, message):
    response = submit(alice, **CORE, source=source.pk, **fields)
    assert response.status_code == 422 and message in response.content.decode()


def test_sdxl_doubles_an_sdxl_sized_image(alice, stability, run_jobs_inline):
    # 1024×1024 ×2 is 2048×2048: not one of SDXL's generation sizes, but what ESRGAN ×2 makes.
    upload = SimpleUploadedFile("sdxl.png", png_bytes(1024, 1024), content_type="image/png")
    with run_jobs_inline(execute=True):
        response = submit(alice, model="sdxl-1.0", quality="standard", operation="upscale", image=upload,
                          prompt="", factor="2")  # fmt: skip
    assert response.status_code == 200, response.content.decode()[:500]
    job = Job.objects.get(operation="upscale")
    assert (job.params["width"], job.params["height"]) == (2048, 2048) and job.status == "succeeded"
    assert "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale" in [r.path for r in stability.requests]


def test_sdxl_refuses_to_upscale_past_esrgans_input_limit(alice, stability):
    upload = SimpleUploadedFile("big.png", png_bytes(1216, 1024), content_type="image/png")
    response = submit(alice, model="sdxl-1.0", quality="standard", operation="upscale", image=upload, prompt="")
    assert response.status_code == 422 and "at most 1,048,576 pixels" in response.content.decode()
    assert not Job.objects.filter(operation="upscale").exists()


def test_a_new_edit_job_restarts_the_pages_live_poll_under_the_same_page(alice, source):
    """The form sends the running poll's page token (hx-include="#live"): the fresh poll that
    watches the new card takes it over, so the old one ends at once instead of after its wait."""
    html = submit(alice, operation="variation", source=source.pk, prompt="", page="editorpage1").content.decode()
    assert 'id="live"' in html and 'hx-swap-oob="true"' in html
    assert 'name="page" value="editorpage1"' in html
    page = alice.get(reverse("studio:editor_image", args=[source.pk])).content.decode()
    assert 'hx-include="#live"' in page


def marked_photo(width=640, height=480, box=(270, 190, 370, 290)):
    photo = PILImage.new("RGB", (width, height), (128, 128, 128))
    photo.paste((255, 0, 0), box)
    return imaging.png_bytes(photo)


def red_box(image):
    pixels = np.asarray(image.convert("RGB")).astype(int)
    rows, cols = np.nonzero((pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60))
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


def test_a_masked_edit_for_a_fixed_size_model_is_padded_for_the_model_to_paint_not_stretched(
    user, openai_emulator, run_jobs_inline
):
    """640×480 on GPT Image 1.5 (1536×1024 nearest): scaled to 1365×1024 and padded, the margins
    added to the mask; OpenAI gets an undistorted picture and a mask transparent where to paint."""
    mask = PILImage.new("L", (640, 480), 0)
    mask.paste(255, (20, 20, 120, 120))  # painted by the user, in the picture's top-left
    prepared = editing.prepare(model="gpt-image-1.5", operation="edit", source=marked_photo(),
                               mask=imaging.png_bytes(mask), prompt="a lantern", quality="low")  # fmt: skip
    with run_jobs_inline(execute=True):
        job = jobs.job_create_edit(owner=user, edit=prepared)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    sent = openai_emulator.requests[-1]
    image = PILImage.open(io.BytesIO(sent.files["image"]))
    assert image.size == (1536, 1024) and sent.fields["size"] == "1536x1024"
    left, top, right, bottom = red_box(image)
    assert abs((right - left) - (bottom - top)) <= 2  # the square is still square
    paint = np.asarray(PILImage.open(io.BytesIO(sent.files["mask"])).getchannel("A")) == 0  # OpenAI: alpha 0 = edit
    margin = (1536 - round(640 * 1024 / 480)) // 2  # 85 px a side
    assert paint[:, : margin - 1].all() and paint[:, 1536 - margin + 1 :].all()  # the margins are painted
    assert paint[60:240, margin + 60 : margin + 240].all()  # what the user painted, scaled
    assert not paint[400:600, 700:900].any()  # the rest of the picture is kept


def test_an_unmasked_edit_for_a_fixed_size_model_is_cropped_to_its_shape_not_stretched(user, openai_emulator):
    prepared = editing.prepare(model="gpt-image-1.5", operation="instruct", source=marked_photo(),
                               prompt="make it night", quality="low")  # fmt: skip
    assert prepared.mask is None and prepared.canvas.size == (1536, 1024)
    left, top, right, bottom = red_box(prepared.canvas)
    assert abs((right - left) - (bottom - top)) <= 2
    # 4:3 to 3:2: the top and bottom twelfths go, evenly; the centre stays the centre.
    assert abs((left + right) / 2 - 768) <= 2 and abs((top + bottom) / 2 - 512) <= 2


@pytest.mark.parametrize(
    ("model", "operation", "shape"),
    [("sdxl-1.0", "remix", (1000, 400)), ("dall-e-2", "variation", (900, 500)), ("sdxl-1.0", "edit", (300, 900))],
)
def test_no_fitted_source_is_stretched(settings, model, operation, shape):
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "stability": {"api_key": "k", "base_url": "x"},
                                  "openai": {"api_key": "k", "base_url": "x"}}  # fmt: skip
    width, height = shape
    box = (width // 2 - 50, height // 2 - 50, width // 2 + 50, height // 2 + 50)
    mask = PILImage.new("L", shape, 0)
    mask.paste(255, (0, 0, 40, 40))
    prepared = editing.prepare(
        model=model, operation=operation, source=marked_photo(width, height, box),
        mask=imaging.png_bytes(mask) if operation == "edit" else None,
        **({} if operation == "variation" else {"prompt": "a boat"}),
    )  # fmt: skip
    left, top, right, bottom = red_box(prepared.canvas)
    assert prepared.canvas.size == (prepared.request.size.width, prepared.request.size.height)
    assert abs((right - left) - (bottom - top)) <= 2, (right - left, bottom - top)


def test_a_fitted_masked_edit_repaints_no_more_of_the_picture_than_each_sides_margin():
    """61×64 on the offline renderer's grid of 8 is placed unscaled on 64×64: 1 px of margin on the
    left, 2 on the right. A side's seam reaches into the picture by no more than its own margin, so
    the mask is 1 + 1 px on the left and 2 + 2 px on the right (not the largest margin on each), and
    elsewhere exactly what the user painted."""
    mask = PILImage.new("L", (61, 64), 0)
    mask.paste(255, (20, 20, 30, 30))
    prepared = editing.prepare(model="offline", operation="edit", source=png_bytes(61, 64),
                               mask=imaging.png_bytes(mask), prompt="a red balloon")  # fmt: skip
    assert prepared.canvas.size == (64, 64)
    painted = np.asarray(prepared.mask)
    assert np.flatnonzero(painted[0]).tolist() == [0, 1, 60, 61, 62, 63]
    expected = np.zeros((64, 64), np.uint8)
    expected[:, :2] = 255  # the 1 px margin and 1 px of the picture
    expected[:, 60:] = 255  # the 2 px margin and 2 px of the picture
    expected[20:30, 21:31] = 255  # the user's box, moved right by the left margin
    assert (painted == expected).all()
