"""In headless Chromium: the lightbox (keys, buttons, swipe, zoom, favourite), and bulk selection."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from gallery.models import Favourite, Image
from tests.conftest import log_in, wait_for
from tests.factories import make_image, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gallery_page(page: Page, live_server):
    user = make_user(username="hana")
    for prompt in ("first: a red kite", "second: a green field", "third: a blue lake"):
        make_image(make_job(owner=user, prompt=prompt, status="succeeded"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, live_server, "hana", "/gallery/")
    expect(page.locator(".tile")).to_have_count(3)
    return page


def test_lightbox_browses_with_arrow_keys_and_copies_the_prompt(gallery_page: Page):
    page = gallery_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.locator(".tile a").first.click()
    prompt = page.locator("[data-lightbox-prompt]")
    expect(prompt).to_have_text("third: a blue lake")  # newest first
    page.keyboard.press("ArrowRight")
    expect(prompt).to_have_text("second: a green field")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # past the last tile: stays
    expect(prompt).to_have_text("first: a red kite")
    page.keyboard.press("ArrowLeft")
    expect(prompt).to_have_text("second: a green field")
    page.get_by_role("button", name="Copy prompt").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "second: a green field"
    page.keyboard.press("Escape")
    expect(page.locator("[data-lightbox]")).to_be_hidden()
    assert errors == []


def test_ticking_tiles_shows_the_bulk_bar_and_tags_them(gallery_page: Page):
    page = gallery_page
    bar = page.locator(".bulk-bar")
    expect(bar).to_be_hidden()
    page.locator(".tile").nth(0).hover()
    page.locator(".tile .pick input").nth(0).check()
    page.locator(".tile .pick input").nth(1).check()
    expect(bar).to_be_visible()
    bar.locator("input[name=tag]").fill("Hero")
    bar.get_by_role("button", name="Tag").click()
    expect(page.get_by_text("Tagged 2 images “hero”.")).to_be_visible()
    assert sorted(Image.objects.filter(tags__name="hero").values_list("job__prompt", flat=True)) == [
        "second: a green field",
        "third: a blue lake",
    ]


def test_deleting_a_board_asks_first_and_keeps_its_images(gallery_page: Page):
    from gallery.models import Board

    page = gallery_page
    page.get_by_role("checkbox", name="Select image").first.check()
    bar = page.locator(".bulk-bar")
    bar.locator("input[name=new_board]").fill("Kites")
    bar.get_by_role("button", name="Add to board").click()
    expect(page.get_by_text("Added 1 image to “Kites”.")).to_be_visible()
    page.get_by_role("link", name="Boards").click()
    delete = page.get_by_role("button", name="Delete the board Kites")
    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    expect(page.get_by_role("link", name="Kites")).to_be_visible()  # said no: nothing happened
    assert Board.objects.filter(name="Kites").exists()
    messages = []
    page.once("dialog", lambda dialog: messages.append(dialog.message) or dialog.accept())
    delete.click()
    expect(page.get_by_text("Deleted the board “Kites”. Its 1 image stays in the gallery.")).to_be_visible()
    assert messages == ["Delete the board “Kites”? The images on it stay in the gallery."]
    assert not Board.objects.exists() and Image.objects.count() == 3


def test_shift_click_selects_a_range_and_ctrl_a_selects_all_without_moving_the_grid(gallery_page: Page):
    page = gallery_page
    for prompt in ("fourth: a grey sky", "fifth: a white sail"):
        make_image(make_job(owner=Image.objects.first().owner, prompt=prompt, status="succeeded"))
    page.reload()
    boxes = page.locator(".tile .pick input")
    expect(boxes).to_have_count(5)
    grid_top = page.locator(".grid").bounding_box()["y"]
    boxes.nth(0).check(force=True)
    boxes.nth(3).click(modifiers=["Shift"], force=True)
    checked = [boxes.nth(i).is_checked() for i in range(5)]
    assert checked == [True, True, True, True, False]
    bar = page.locator(".bulk-bar")
    expect(bar.locator("[data-selected-count]")).to_have_text("4 selected")
    assert page.locator(".grid").bounding_box()["y"] == grid_top  # the bar floats: no layout shift
    page.locator("h1").click()
    page.keyboard.press("Control+a")
    expect(bar.locator("[data-selected-count]")).to_have_text("5 selected")
    bar.get_by_role("button", name="Clear selection").click()
    expect(bar).to_be_hidden()
    assert not any(boxes.nth(i).is_checked() for i in range(5))


def _big_image(owner, prompt: str, width: int, height: int) -> Image:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.factories import png_bytes

    name = default_storage.save("images/t/big.png", ContentFile(png_bytes(width, height)))
    job = make_job(owner=owner, prompt=prompt, status="succeeded")
    job.params = {**job.params, "options": {"background": None, "moderation": False, "enhance": True}}
    job.save()
    return make_image(job, file=name, width=width, height=height, seed=4242)


def test_lightbox_zooms_with_the_wheel_and_one_to_one_and_shows_seed_size_and_options(gallery_page: Page):
    page = gallery_page
    _big_image(Image.objects.first().owner, "wide: a long beach", 2400, 1000)
    page.reload()
    page.locator(".tile a").first.click()
    lightbox = page.locator("[data-lightbox]")
    expect(lightbox.locator("[data-lightbox-prompt]")).to_have_text("wide: a long beach")
    expect(lightbox.locator("[data-lightbox-size]")).to_have_text("2400×1000")
    expect(lightbox.locator("[data-lightbox-seed]")).to_have_text("4242")
    expect(lightbox.locator("[data-lightbox-options]")).to_have_text(
        "background: not set · moderation: off · enhance: on"
    )
    expect(lightbox.locator("[data-lightbox-download]")).to_have_attribute("href", re.compile(r"/download/$"))
    level = lightbox.locator("[data-lightbox-zoom-level]")
    expect(level).to_have_text("fit")
    lightbox.get_by_role("button", name="1:1").click()
    expect(level).to_have_text("100%")
    lightbox.get_by_role("button", name="Fit").click()
    expect(level).to_have_text("fit")
    box = lightbox.locator("[data-lightbox-stage]").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    expect(level).not_to_have_text("fit")
    expect(lightbox.locator("[data-lightbox-stage]")).to_have_class(re.compile("zoomed"))


def test_lightbox_buttons_browse_and_favourite_the_image_shown(gallery_page: Page):
    page = gallery_page
    page.locator(".tile a").first.click()
    lightbox = page.locator("[data-lightbox]")
    prompt = lightbox.locator("[data-lightbox-prompt]")
    expect(lightbox.get_by_role("button", name="Previous image")).to_be_disabled()
    lightbox.get_by_role("button", name="Next image").click()
    expect(prompt).to_have_text("second: a green field")
    lightbox.get_by_role("button", name="☆ Favourite").click()
    expect(lightbox.get_by_role("button", name="★ Favourite")).to_be_visible()
    assert list(Favourite.objects.values_list("image__job__prompt", flat=True)) == ["second: a green field"]
    lightbox.get_by_role("button", name="Previous image").click()
    expect(prompt).to_have_text("third: a blue lake")
    expect(lightbox.get_by_role("button", name="☆ Favourite")).to_be_visible()


def _touch(cdp, kind: str, *points: tuple[float, float]) -> None:
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]},
    )


def test_on_a_phone_the_lightbox_swipes_between_images_and_pinches_to_zoom(browser: Browser, live_server):
    user = make_user(username="noor")
    for prompt in ("first: a red kite", "second: a green field"):
        make_image(make_job(owner=user, prompt=prompt, status="succeeded"))
    _big_image(user, "third: a blue lake", 1600, 1600)
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server, "noor", "/gallery/")
    expect(page.locator(".tile .pick").first).to_have_css("opacity", "1")  # no hover on a touch screen
    page.locator(".tile a").first.tap()
    lightbox = page.locator("[data-lightbox]")
    prompt = lightbox.locator("[data-lightbox-prompt]")
    expect(prompt).to_have_text("third: a blue lake")
    stage = lightbox.locator("[data-lightbox-stage]").bounding_box()
    x, y = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
    cdp = context.new_cdp_session(page)
    _touch(cdp, "touchStart", (x, y))
    _touch(cdp, "touchMove", (x - 60, y))
    _touch(cdp, "touchMove", (x - 150, y + 5))
    _touch(cdp, "touchEnd")
    expect(prompt).to_have_text("second: a green field")  # swiped left: the next image
    _touch(cdp, "touchStart", (x - 100, y))
    _touch(cdp, "touchMove", (x + 100, y))
    _touch(cdp, "touchEnd")
    expect(prompt).to_have_text("third: a blue lake")  # swiped right: back
    level = lightbox.locator("[data-lightbox-zoom-level]")
    expect(level).to_have_text("fit")
    _touch(cdp, "touchStart", (x - 20, y), (x + 20, y))
    _touch(cdp, "touchMove", (x - 60, y), (x + 60, y))
    _touch(cdp, "touchMove", (x - 100, y), (x + 100, y))
    _touch(cdp, "touchEnd")
    expect(level).not_to_have_text("fit")  # pinched: zoomed in, and still the same image
    expect(prompt).to_have_text("third: a blue lake")
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_tiles_keep_their_aspect_ratio_with_or_without_javascript(browser: Browser, live_server, javascript):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.factories import png_bytes

    user = make_user(username="omar")
    for width, height in ((160, 90), (90, 160), (100, 100), (210, 90), (120, 160), (160, 90), (100, 100)):
        thumbnail = default_storage.save("thumbs/t/shape.png", ContentFile(png_bytes(width, height)))
        job = make_job(owner=user, prompt=f"{width}x{height}", status="succeeded")
        make_image(job, thumbnail=thumbnail, width=width * 10, height=height * 10)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, java_script_enabled=javascript)
    page = context.new_page()
    log_in(page, live_server, "omar", "/gallery/")
    assert wait_for(
        lambda: page.evaluate("[...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth)"),
        timeout=15,
    )
    tiles = page.evaluate("""[...document.querySelectorAll('[data-tile]')].map(t => {
        const i = t.querySelector('img'), a = i.getBoundingClientRect(), b = t.getBoundingClientRect();
        return {ratio: i.width / i.height, wanted: i.getAttribute('width') / i.getAttribute('height'),
                img: [a.left, a.top, a.right, a.bottom], tile: [b.left, b.top, b.right, b.bottom]};
    })""")
    assert len(tiles) == 7
    for tile in tiles:
        assert tile["ratio"] == pytest.approx(tile["wanted"], rel=0.03), tile  # not stretched
        left, top, right, bottom = tile["tile"]
        x0, y0, x1, y1 = tile["img"]
        assert x0 >= left - 1 and y0 >= top - 1 and x1 <= right + 1 and y1 <= bottom + 1, tile  # not cropped
    grid = page.locator(".grid").bounding_box()
    rows = {}
    for tile in tiles:
        rows.setdefault(round(tile["tile"][1]), []).append(tile["tile"][2])
    *full_rows, _last = sorted(rows.items())
    assert full_rows, "all tiles in one row"
    if javascript:  # justified: every row but the last reaches the right edge
        for _top, rights in full_rows:
            assert max(rights) == pytest.approx(grid["x"] + grid["width"], abs=2)
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    context.close()
