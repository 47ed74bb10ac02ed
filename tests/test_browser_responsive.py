"""In headless Chromium on a phone-sized screen: no page scrolls sideways, and the menu button opens the nav."""

import pytest
from playwright.sync_api import Browser, expect

from gallery.models import Board
from studio.models import Comparison, Job
from tests.conftest import log_in
from tests.factories import make_image, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
NAV_LINKS = ["Studio", "Editor", "Compare", "Gallery", "Costs", "Providers", "API tokens"]


@pytest.fixture
def content(live_server):
    """A staff user with wide content: long prompts, a four-column comparison, a board."""
    user = make_user(username="ines", is_staff=True)
    prompt = "a lighthouse on a cliff at sunset, " * 6
    image = make_image(make_job(owner=user, prompt=prompt, status=Job.Status.SUCCEEDED))
    for aspect in ("9:16", "21:9"):
        make_image(make_job(owner=user, prompt=f"framed {aspect}", status=Job.Status.SUCCEEDED))
    models = ["offline", "offline-watercolor", "offline-mosaic", "gpt-image-1"]
    settings = {"aspect_ratio": "1:1", "quality": "default", "seed": 1, "models": models}
    comparison = Comparison.objects.create(owner=user, prompt=prompt, settings=settings)
    for column, model_id in enumerate(models):
        make_image(make_job(user, status=Job.Status.SUCCEEDED, comparison=comparison, column=column, model_id=model_id))
    Board.objects.create(name="Kites and other things that fly", created_by=user)
    return {"image": image, "comparison": comparison}


def _overflow(page) -> int:
    """How many pixels the page is wider than the screen (0 when it does not scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_no_page_scrolls_sideways_on_a_phone_and_the_menu_reaches_every_link(browser: Browser, live_server, content):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/account/login/")
    assert _overflow(page) <= 0, "login"
    log_in(page, live_server, "ines", "/")

    menu = page.locator(".nav-menu > summary")
    nav = page.get_by_role("navigation", name="Main")
    expect(menu).to_be_visible()
    expect(nav).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")  # a keyboard opens it too
    for name in NAV_LINKS:
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    assert _overflow(page) <= 0, "open menu"
    nav.get_by_role("link", name="Gallery").click()
    expect(page).to_have_url(f"{live_server.url}/gallery/")

    filters = page.locator(".filters-menu > summary")
    expect(page.locator("#id_q")).to_be_hidden()
    filters.click()
    expect(page.locator("#id_q")).to_be_visible()
    columns = page.evaluate("getComputedStyle(document.querySelector('.grid')).gridTemplateColumns.split(' ').length")
    assert columns == 2

    paths = [
        "/",
        "/edit/",
        f"/edit/{content['image'].pk}/",
        "/compare/",
        f"/compare/{content['comparison'].pk}/",
        "/compare/leaderboard/",
        "/compare/leaderboard/?models=practice",
        "/compare/battle/",
        "/gallery/",
        f"/gallery/{content['image'].pk}/",
        "/gallery/boards/",
        "/costs/",
        "/providers/",
        "/account/tokens/",
    ]
    wide = {}
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        if _overflow(page) > 0:
            wide[path] = page.evaluate("document.documentElement.scrollWidth")
    assert wide == {}

    page.goto(f"{live_server.url}/gallery/")
    page.locator(".tile a").first.click()
    close = page.locator(".lightbox-close")
    expect(close).to_be_in_viewport()
    close.click()
    expect(page.locator("[data-lightbox]")).to_be_hidden()
    context.close()
