"""In headless Chromium at a phone's and a desktop's size: no page scrolls sideways and each page's
main action is on screen; on a phone the menu button opens the nav, the gallery shows rows of 2–3
tiles and the lightbox's close button is on screen. Screenshots land in test-artifacts/responsive/."""

from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.utils import timezone
from playwright.sync_api import Browser, expect

from gallery.models import Board, SavedSearch
from studio.models import Comparison, Job, Vote
from tests.conftest import log_in
from tests.factories import make_image, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
NAV_LINKS = ["Studio", "Editor", "Compare", "Gallery", "Costs", "Providers", "API tokens"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "responsive"


@pytest.fixture
def content(live_server):
    """A staff user with wide content: long prompts, wide and tall images, a four-column
    comparison with a vote, a board, a saved search, a locked-out log-in."""
    user = make_user(username="ines", is_staff=True)
    prompt = "a lighthouse on a cliff at sunset, " * 6
    job = make_job(owner=user, prompt=prompt, status=Job.Status.SUCCEEDED)
    image = make_image(job)
    for width, height in ((576, 1024), (1344, 576), (1024, 1024), (768, 1024)):
        make_image(
            make_job(owner=user, prompt=f"framed {width}×{height}", status="succeeded"), width=width, height=height
        )
    models = ["offline", "offline-watercolor", "offline-mosaic", "gpt-image-1"]
    settings = {"aspect_ratio": "1:1", "quality": "default", "seed": 1, "models": models}
    comparison = Comparison.objects.create(owner=user, prompt=prompt, settings=settings)
    for column, model_id in enumerate(models):
        make_image(make_job(user, status=Job.Status.SUCCEEDED, comparison=comparison, column=column, model_id=model_id))
    Vote.objects.create(comparison=comparison, user=make_user(username="olga"), winner=comparison.jobs.first())
    Board.objects.create(name="Kites and other things that fly", created_by=user)
    SavedSearch.objects.create(owner=user, name="Lighthouses at sunset, every model", query="q=lighthouse", shared=True)
    AccessAttempt.objects.create(
        username="somebody-with-a-rather-long-user-name",
        ip_address="2001:db8:85a3::8a2e:370:7334",
        failures_since_start=9,
        attempt_time=timezone.now(),
        user_agent="",
        http_accept="",
        path_info="/account/login/",
        get_data="",
        post_data="",
    )
    return {"image": image, "comparison": comparison, "job": job}


def _overflow(page) -> int:
    """How many pixels the page is wider than the screen (0 when it does not scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _pages(content) -> list[tuple[str, str, callable]]:
    """Every page as (name, path, its main action)."""
    image, comparison, job = content["image"].pk, content["comparison"].pk, content["job"].pk
    button = lambda name: lambda page: page.get_by_role("button", name=name, exact=True).first  # noqa: E731
    return [
        ("studio", "/", lambda page: page.locator("#job-form button.primary")),
        ("editor", "/edit/", lambda page: page.locator("#edit-form button.primary")),
        ("editor-image", f"/edit/{image}/", lambda page: page.locator("#edit-form button.primary")),
        ("compare", "/compare/", button("Compare")),
        ("comparison", f"/compare/{comparison}/", lambda page: page.locator(".vote-buttons button").first),
        ("leaderboard", "/compare/leaderboard/", button("Show")),
        ("leaderboard-practice", "/compare/leaderboard/?models=practice", button("Show")),
        ("battle", "/compare/battle/", button("Battle")),
        ("gallery", "/gallery/", lambda page: page.locator(".tile a").first),
        ("image-detail", f"/gallery/{image}/", lambda page: page.get_by_role("link", name="Open in editor")),
        ("boards", "/gallery/boards/", button("Create board")),
        ("costs", "/costs/", button("Show")),
        ("providers", "/providers/", lambda page: page.locator("table tr").nth(1)),
        ("job", f"/jobs/{job}/", lambda page: page.locator(".job-card img").first),
        ("tokens", "/account/tokens/", button("Create token")),
        ("lockouts", "/account/lockouts/", button("Unlock")),
        ("not-found", "/gallery/987654/", lambda page: page.get_by_role("link", name="Back to the studio")),
    ]


def _problem(page, action) -> str:
    """What is wrong with a page on this screen: sideways scrolling, or a main action that is
    missing, hidden or cut off at the side ("" when nothing is)."""
    if (extra := _overflow(page)) > 0:
        return f"{extra} px wider than the screen"
    if not action.is_visible():
        return "main action not visible"
    action.scroll_into_view_if_needed()
    box = action.bounding_box()
    width = page.viewport_size["width"]
    if box is None or box["x"] < 0 or box["x"] + box["width"] > width + 0.5:
        return f"main action cut off at the side: {box}"
    return ""


@pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_fits_the_screen_with_its_main_action_visible(browser: Browser, live_server, content, screen):
    context = browser.new_context(viewport=screen)
    page = context.new_page()
    name = "phone" if screen == PHONE else "desktop"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/account/login/")
    problems = {}
    if problem := _problem(page, page.get_by_role("button", name="Log in")):
        problems["login"] = problem
    page.screenshot(path=SCREENSHOTS / f"{name}-login.png")
    log_in(page, live_server, "ines", "/")
    for label, path, action in _pages(content):
        page.goto(f"{live_server.url}{path}")
        if problem := _problem(page, action(page)):
            problems[label] = problem
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png")
    context.close()
    assert problems == {}


def test_on_a_phone_the_menu_reaches_every_link_and_the_gallery_shows_rows_of_two_or_three(
    browser: Browser, live_server, content
):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
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
    tops = page.evaluate("[...document.querySelectorAll('[data-tile]')].map(t => t.getBoundingClientRect().top)")
    rows = [tops.count(top) for top in sorted(set(tops))]
    assert all(count <= 3 for count in rows) and max(rows) >= 2, rows

    page.locator(".tile a").first.click()
    close = page.locator(".lightbox-close")
    expect(close).to_be_in_viewport()
    close.click()
    expect(page.locator("[data-lightbox]")).to_be_hidden()
    context.close()
