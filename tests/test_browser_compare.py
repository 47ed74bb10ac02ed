"""In headless Chromium: a blind comparison of three models names none of them until the vote;
a tie reveals them without a reload; the synced viewer zooms every column; the leaderboard moves."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from studio import catalog
from studio.models import Vote
from tests.conftest import log_in
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
MODELS = ("offline", "offline-watercolor", "offline-mosaic")


def test_blind_comparison_vote_tie_names_revealed_and_the_leaderboard_changes(page: Page, live_server, worker):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    make_user(username="gina")
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server, "gina", "/compare/leaderboard/")
    page.get_by_role("link", name="Offline renderer (practice)").click()
    expect(page.get_by_text("No blind votes on the offline renderer yet")).to_be_visible()

    page.goto(f"{live_server.url}/compare/")
    page.fill("#id_prompt", "a fox in an autumn forest at sunset")
    for model_id in MODELS:
        page.get_by_label(catalog.MODELS[model_id].label, exact=True).check()
    page.select_option("#id_aspect_ratio", "21:9")
    page.fill("#id_category", "animals")
    page.click("button.primary:has-text('Compare')")

    columns = page.locator(".column")
    expect(columns).to_have_count(3)
    for i in range(3):
        expect(columns.nth(i).locator(".badge")).to_have_text("Succeeded", timeout=30_000)
    expect(columns.locator(".column-name")).to_have_text(["A", "B", "C"])
    tie = page.get_by_role("button", name="Tie", exact=True)
    expect(tie).to_be_visible(timeout=10_000)  # the vote panel swapped in with the last column
    html = page.content().lower()
    tells = {t.lower() for m in MODELS for t in (m, catalog.MODELS[m].label)} | {"offline", "1536×640"}
    assert [t for t in tells if t in html] == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "comparison-blind.png", full_page=True)

    page.get_by_role("button", name="View full size, side by side").click()
    panes = page.locator(".viewer-pane img")
    expect(panes).to_have_count(3)
    page.keyboard.press("+")
    expect(page.locator(".viewer")).to_have_attribute("data-zoom", "1.50")
    transforms = {panes.nth(i).evaluate("img => img.style.transform") for i in range(3)}
    assert transforms == {"scale(1.5) translate(0px, 0px)"}  # every column zoomed together
    page.keyboard.press("Escape")
    expect(page.locator(".viewer")).to_have_count(0)

    comparison_url = page.url
    page.evaluate("window.notReloaded = true")
    tie.click()
    expect(page.get_by_text("Vote recorded: tie.")).to_be_visible()
    for model_id in MODELS:
        expect(page.locator(".column-name", has_text=catalog.MODELS[model_id].label)).to_have_count(1)
    expect(columns.first).to_contain_text("21:9 → 1536×640")
    assert page.evaluate("window.notReloaded") is True  # swapped in by htmx, not a page load
    page.screenshot(path=ARTIFACTS / "comparison-revealed.png", full_page=True)
    page.get_by_label("Search models").fill("flux 2")  # Add models, now that the names are out
    shown = page.locator(".add-models label:visible")
    expect(shown).to_have_count(2)
    expect(shown.first).to_contain_text("FLUX.2")

    page.get_by_role("link", name="Leaderboard →").click()  # the practice board: offline games count there only
    rows = page.locator("table.leaderboard tbody tr")
    expect(rows).to_have_count(3)
    for i in range(3):  # a three-way tie: one vote each, a tie each, all rated alike
        expect(rows.nth(i).locator("td").nth(4)).to_have_text("1")
        expect(rows.nth(i).locator("td").nth(6)).to_have_text("1")
        expect(rows.nth(i).locator("td").nth(2)).to_have_text("1000")
    page.get_by_role("link", name="Provider models").click()
    expect(page.get_by_text("No blind votes in “animals” yet")).to_be_visible()  # practice never counts here

    page.goto(comparison_url)
    page.keyboard.press("3")  # keys pick a column; a changed vote is a labelled one
    expect(page.locator("#vote-panel")).to_contain_text("Your vote: C (")
    page.goto(f"{live_server.url}/compare/leaderboard/?votes=labelled&models=practice")
    expect(page.locator("table.leaderboard tbody tr").first.locator("td").nth(5)).to_have_text("1")

    page.goto(comparison_url)  # rank them all: C dragged above A, then B moved up a place: C, B, A
    page.get_by_text("Or rank them all").click()
    items = page.locator("[data-rank-list] li")
    items.nth(2).drag_to(items.nth(0), target_position={"x": 10, "y": 2})
    expect(items).to_have_text([re.compile(r"^C\b"), re.compile(r"^A\b"), re.compile(r"^B\b")])
    page.get_by_role("button", name="Move B up").click()
    page.get_by_role("button", name="Save ranking").click()
    expect(page.locator("#vote-panel")).to_contain_text("Your vote: a ranking with C (")
    assert Vote.objects.get().ranking == [2, 1, 0]
    assert errors == []
