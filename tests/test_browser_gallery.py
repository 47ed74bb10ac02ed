"""In headless Chromium: the lightbox's keyboard navigation, copy prompt, and bulk selection."""

import pytest
from playwright.sync_api import Page, expect

from gallery.models import Image
from tests.conftest import log_in
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
