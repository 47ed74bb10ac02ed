"""In headless Chromium: compare three models, watch columns fill, vote, see the leaderboard change."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import log_in
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def test_compare_three_models_vote_and_the_leaderboard_changes(page: Page, live_server, worker):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    make_user(username="gina")
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, "gina", "/compare/leaderboard/")
    expect(page.get_by_text("No votes yet")).to_be_visible()

    page.goto(f"{live_server.url}/compare/")
    page.fill("#id_prompt", "a fox in an autumn forest at sunset")
    for label in ("Offline sketch", "Offline watercolour", "Offline mosaic"):
        page.get_by_label(label, exact=True).check()
    page.select_option("#id_aspect_ratio", "21:9")
    page.fill("#id_category", "animals")
    page.click("button.primary:has-text('Compare')")

    columns = page.locator(".column")
    expect(columns).to_have_count(3)
    for i in range(3):
        expect(columns.nth(i).locator(".badge")).to_have_text("Succeeded", timeout=30_000)
    expect(columns.nth(0)).to_contain_text("21:9 → 1536×640")
    pick = columns.nth(1).get_by_role("button", name="Pick as best")
    expect(pick).to_be_enabled(timeout=10_000)  # the page reloads once the last column is in
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "comparison.png", full_page=True)
    pick.click()
    expect(page.get_by_text("Vote recorded: Offline watercolour")).to_be_visible()
    expect(page.locator(".column.picked")).to_contain_text("Offline watercolour")

    page.get_by_role("link", name="Leaderboard →").click()
    rows = page.locator("table.leaderboard tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Offline watercolour")
    expect(rows.first).to_contain_text("2 / 2")
    assert errors == []
