"""In headless Chromium: paint a mask (mouse and touch), undo/redo, outpaint, pinch zoom, drop a file, errors by
Run, and results on the canvas to accept or discard; check what the renderer got."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_q.conf import Conf
from PIL import Image as PILImage
from playwright.sync_api import Browser, Page, expect

from gallery.models import Image
from studio import imaging
from studio.models import Job
from tests.conftest import log_in, wait_for
from tests.factories import make_image, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
W, H = 512, 384


@pytest.fixture
def editor(page: Page, live_server, monkeypatch):
    """Logged in as frank, the editor open on a 512x384 gallery image; jobs run as they are queued."""
    monkeypatch.setattr(Conf, "SYNC", True)
    user = make_user(username="frank")
    source = PILImage.new("RGB", (W, H), (40, 120, 200))
    name = default_storage.save("images/t/source.png", ContentFile(imaging.png_bytes(source)))
    image = make_image(make_job(owner=user, status="succeeded"), file=name, width=W, height=H)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "422" not in m.text else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1400, "height": 950})
    log_in(page, live_server, "frank", f"/edit/{image.pk}/")
    expect(page.locator("[data-empty]")).to_be_hidden()
    page.errors = errors
    return page


def drag(page: Page, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through image-pixel points, converting them to screen coordinates."""
    box = page.locator("[data-overlay-canvas]").bounding_box()

    def screen(x, y):
        return box["x"] + x * box["width"] / W, box["y"] + y * box["height"] / H

    page.mouse.move(*screen(*points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*screen(*point), steps=12)
    page.mouse.up()


def stored_mask(job: Job) -> np.ndarray:
    with default_storage.open(job.mask_file) as f:
        return np.asarray(PILImage.open(io.BytesIO(f.read())).convert("L"))


def finished_job(operation: str) -> Job:
    job = wait_for(lambda: Job.objects.filter(operation=operation).first(), timeout=15)
    assert job, f"no {operation} job was created"
    assert wait_for(lambda: Job.objects.get(pk=job.pk).is_final, timeout=15)
    return Job.objects.get(pk=job.pk)


def test_painted_stroke_undo_redo_reaches_the_renderer_as_the_mask(editor: Page):
    page = editor
    page.locator("[data-viewport]").focus()
    page.keyboard.press("[")  # 48 -> 41 px brush
    expect(page.locator("[data-size-output]")).to_have_text("41")
    drag(page, [(100, 100), (400, 100)])  # stroke 1: horizontal
    drag(page, [(250, 160), (250, 340)])  # stroke 2: vertical
    undo, redo = page.locator('[data-action="undo"]'), page.locator('[data-action="redo"]')
    expect(redo).to_be_disabled()
    page.keyboard.press("Control+z")  # removes stroke 2
    expect(redo).to_be_enabled()
    page.keyboard.press("Control+Shift+z")  # stroke 2 back
    expect(redo).to_be_disabled()
    page.keyboard.press("Control+z")  # and gone again: only stroke 1 is sent
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "editor.png")
    page.fill("#id_prompt", "a red balloon")
    page.click("#edit-form button.primary")
    job = finished_job("edit")
    assert job.status == "succeeded", job.error_message
    mask = stored_mask(job)
    assert mask.shape == (H, W)
    for x in (100, 175, 250, 325, 400):
        assert mask[100, x] == 255, f"stroke pixel ({x}, 100) not painted"
    assert mask[300, 250] == 0, "the undone stroke was sent"
    painted = np.argwhere(mask > 127)
    (y0, x0), (y1, x1) = painted.min(axis=0), painted.max(axis=0)
    radius = 41 / 2
    assert abs(x0 - (100 - radius)) <= 3 and abs(x1 - (400 + radius)) <= 3
    assert abs(y0 - (100 - radius)) <= 3 and abs(y1 - (100 + radius)) <= 3
    expect(page.locator("#edit-jobs .job-card .badge").first).to_have_text("Succeeded")
    expect(undo).to_be_enabled()  # the painting is still there to refine and run again
    assert page.errors == []


def test_outpaint_sends_an_extended_canvas_with_the_strip_masked(editor: Page):
    page = editor
    page.get_by_label("Outpaint").check()
    expect(page.get_by_text("Extend by pixels")).to_be_visible()
    page.fill("#id_extend_right", "128")
    expect(page.locator("[data-status]")).to_contain_text(f"{W + 128}×{H}")
    page.fill("#id_prompt", "more sky")
    page.screenshot(path=ARTIFACTS / "editor-outpaint.png")
    page.click("#edit-form button.primary")
    job = finished_job("outpaint")
    assert job.status == "succeeded", job.error_message
    with default_storage.open(job.source_file) as f:
        assert PILImage.open(io.BytesIO(f.read())).size == (W + 128, H)
    mask = stored_mask(job)
    assert (mask[:, W - imaging.OUTPAINT_OVERLAP :] == 255).all()
    assert (mask[:, : W - imaging.OUTPAINT_OVERLAP] == 0).all()
    assert page.errors == []


def test_errors_show_in_the_editor_and_the_painting_survives(editor: Page):
    page = editor
    page.click("#edit-form button.primary")
    expect(page.locator("#mask-error")).to_contain_text("The mask is empty")
    drag(page, [(60, 60), (200, 60)])
    page.fill("#id_prompt", "")  # it starts with the source image's prompt
    page.click("#edit-form button.primary")
    expect(page.locator("#prompt-error")).to_contain_text("Write a prompt")
    page.fill("#id_prompt", "a kite")
    page.click("#edit-form button.primary")
    job = finished_job("edit")
    assert stored_mask(job)[60, 130] == 255
    assert page.errors == []


def test_an_error_shows_next_to_run_and_takes_the_focus(editor: Page):
    page = editor
    run = page.locator("#edit-form button.primary")
    run.click()
    errors = page.locator("[data-run-errors]")
    expect(errors).to_be_focused()
    expect(errors).to_contain_text("The mask is empty")
    assert 0 <= run.bounding_box()["y"] - (errors.bounding_box()["y"] + errors.bounding_box()["height"]) < 40
    drag(page, [(60, 60), (200, 60)])
    page.fill("#id_prompt", "")
    run.click()
    expect(errors).to_be_focused()
    expect(errors.get_by_role("link", name="Prompt")).to_be_visible()


def test_results_land_on_the_canvas_to_compare_discard_or_accept_and_edit_again(editor: Page):
    page = editor
    source_id = Image.objects.get().pk
    drag(page, [(100, 100), (300, 100)])
    page.fill("#id_prompt", "a red balloon")
    page.click("#edit-form button.primary")
    first = finished_job("edit").images.get()
    bar = page.locator("[data-result-bar]")
    expect(bar).to_be_visible()
    result = page.locator("[data-result-image]")
    expect(result).to_have_attribute("src", f"/gallery/{first.pk}/image/")
    page.locator("[data-result-split]").fill("20")
    assert page.evaluate("document.querySelector('[data-result-image]').style.clipPath") == "inset(0px 0px 0px 20%)"
    page.screenshot(path=ARTIFACTS / "editor-result.png")
    bar.get_by_role("button", name="Discard").click()
    expect(result).to_be_hidden()
    expect(page.locator('[name="source"]')).to_have_value(str(source_id))
    page.locator(f'#edit-jobs a[href="/gallery/{first.pk}/"]').click()  # a result's thumbnail shows it again
    expect(result).to_have_attribute("src", f"/gallery/{first.pk}/image/")
    bar.get_by_role("button", name="Accept").click()
    expect(result).to_be_hidden()
    expect(page.locator('[name="source"]')).to_have_value(str(first.pk))
    expect(page.locator("#editor-title")).to_have_text(f"Edit image {first.pk}")
    expect(page).to_have_url(re.compile(f"/edit/{first.pk}/$"))
    expect(page.locator('[data-action="undo"]')).to_be_disabled()  # a fresh mask for the new source
    drag(page, [(100, 200), (300, 200)])
    page.click("#edit-form button.primary")
    assert wait_for(lambda: Job.objects.filter(source_image=first).exists(), timeout=15)
    assert page.errors == []


def test_an_image_file_dropped_on_the_canvas_is_opened_and_sent(editor: Page):
    page = editor
    png = list(imaging.png_bytes(PILImage.new("RGB", (300, 200), (200, 40, 40))))
    files = page.evaluate_handle(
        """bytes => {
            const files = new DataTransfer();
            files.items.add(new File([new Uint8Array(bytes)], "red.png", { type: "image/png" }));
            return files;
        }""",
        png,
    )
    page.dispatch_event("[data-viewport]", "drop", {"dataTransfer": files})
    expect(page.locator("[data-status]")).to_contain_text("300×200")
    expect(page.locator("#editor-title")).to_have_text("Edit an upload")
    page.get_by_label("Variation").check()
    page.click("#edit-form button.primary")
    job = finished_job("variation")
    assert job.status == "succeeded", job.error_message
    assert job.source_image is None
    with default_storage.open(job.source_file) as f:
        assert PILImage.open(io.BytesIO(f.read())).getpixel((10, 10)) == (200, 40, 40)


def _touch(cdp, kind: str, *points: tuple[float, float]) -> None:
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]},
    )


def test_on_a_phone_one_finger_paints_two_fingers_zoom_and_the_page_still_scrolls(browser: Browser, live_server):
    user = make_user(username="gwen")
    name = default_storage.save("images/t/source.png", ContentFile(imaging.png_bytes(PILImage.new("RGB", (W, H)))))
    image = make_image(make_job(owner=user, status="succeeded"), file=name, width=W, height=H)
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server, "gwen", f"/edit/{image.pk}/")
    expect(page.locator("[data-empty]")).to_be_hidden()
    status = page.locator("[data-status]")
    zoom = re.compile(r"zoom (\d+)%")
    before = int(zoom.search(status.inner_text())[1])
    box = page.locator("[data-viewport]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = context.new_cdp_session(page)
    _touch(cdp, "touchStart", (x - 20, y), (x + 20, y))
    _touch(cdp, "touchMove", (x - 50, y), (x + 50, y))
    _touch(cdp, "touchMove", (x - 80, y + 30), (x + 80, y + 30))
    _touch(cdp, "touchEnd")
    expect(status).not_to_contain_text(f"zoom {before}%")
    assert int(zoom.search(status.inner_text())[1]) > before * 3
    expect(page.locator('[data-action="undo"]')).to_be_disabled()  # a pinch paints nothing
    _touch(cdp, "touchStart", (x - 30, y))
    _touch(cdp, "touchMove", (x, y + 10))
    _touch(cdp, "touchMove", (x + 30, y + 20))
    _touch(cdp, "touchEnd")
    expect(page.locator('[data-action="undo"]')).to_be_enabled()  # one finger painted
    assert page.evaluate("scrollY") == 0
    page.mouse.move(x, box["y"] + box["height"] + 120)  # below the canvas: the page scrolls
    page.mouse.wheel(0, 300)
    assert wait_for(lambda: page.evaluate("scrollY") > 0, timeout=5)
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    page.get_by_label("Remix").check()  # nothing to paint: one finger moves the view
    expect(page.locator("#id_strength")).to_be_attached()
    transform = "document.querySelector('[data-stage]').style.transform"
    page.locator("[data-viewport]").scroll_into_view_if_needed()
    box = page.locator("[data-viewport]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    moved_from = page.evaluate(transform)
    _touch(cdp, "touchStart", (x, y))
    _touch(cdp, "touchMove", (x + 40, y + 40))
    _touch(cdp, "touchEnd")
    assert page.evaluate(transform) != moved_from
    context.close()
