"""In headless Chromium: log in, generate, watch the card finish, find the image in the gallery."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import log_in
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def console_errors(page: Page):
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def open_studio(page: Page, live_server, username: str) -> None:
    """Visiting the studio logged out leads to the login form, and back to the studio after it."""
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/account/login/?next=/")
    log_in(page, live_server, username)
    expect(page.get_by_role("heading", name="New image")).to_be_visible()


def test_prompt_to_gallery_with_a_real_worker(page: Page, live_server, worker, console_errors):
    make_user(username="carol")
    ARTIFACTS.mkdir(exist_ok=True)
    open_studio(page, live_server, "carol")
    expect(page.get_by_text("No jobs yet")).to_be_visible()

    page.fill("#id_prompt", "a lighthouse on a cliff at sunset over the sea")
    page.select_option("#id_size", "1344x768")
    page.select_option("#id_quality", "high")
    page.fill("#id_seed", "31337")
    page.keyboard.press("Control+Enter")

    card = page.locator(".job-card").first
    expect(card.locator("input[name=watch]")).to_have_count(1)  # watched by the live updates while unfinished
    # The image arrives through the long-poll: no reload, no per-card polling.
    page.evaluate("() => { window.notReloaded = true; }")
    expect(card.locator(".badge")).to_have_text("Succeeded", timeout=30_000)
    expect(card.locator(".results img")).to_have_count(1)
    expect(card.locator("input[name=watch]")).to_have_count(0)
    assert page.evaluate("() => window.notReloaded") is True
    expect(page.get_by_text("No jobs yet")).to_be_hidden()
    expect(card.locator(".meta")).to_contain_text("1344×768 · high · seed 31337")
    page.screenshot(path=ARTIFACTS / "studio.png")

    page.click("nav >> text=Gallery")
    tile = page.locator(".tile").first
    expect(tile).to_be_visible()
    tile.locator("a").first.click()  # opens the lightbox
    lightbox = page.locator("[data-lightbox]")
    expect(lightbox.locator("[data-lightbox-prompt]")).to_have_text("a lighthouse on a cliff at sunset over the sea")
    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()
    tile.locator("a").first.click()
    lightbox.get_by_role("link", name="Details").click()
    metadata = page.locator("dl.metadata")
    expect(metadata).to_contain_text("a lighthouse on a cliff at sunset over the sea")
    expect(metadata).to_contain_text("Offline sketch")
    expect(metadata).to_contain_text("1344×768 (16:9)")
    expect(metadata).to_contain_text("31337")
    expect(metadata).to_contain_text("carol")
    page.wait_for_function("() => document.querySelector('figure img').naturalWidth > 0")
    assert page.locator("figure img").evaluate("img => img.naturalWidth") == 1344
    page.screenshot(path=ARTIFACTS / "detail.png", full_page=True)
    assert console_errors == []


def test_validation_errors_show_next_to_the_field(page: Page, live_server, console_errors):
    make_user(username="dave")
    open_studio(page, live_server, "dave")
    page.click("button[type=submit].primary")
    expect(page.locator("#prompt-error")).to_have_text("Write a prompt: describe the image you want.")
    page.select_option("#id_model", "offline")
    expect(page.locator(".job-card")).to_have_count(0)
    # htmx logs the 422 response as a failed resource load; nothing else may fail.
    assert [e for e in console_errors if "422" not in e] == []


def test_dropping_an_atelier_png_restores_its_settings(page: Page, live_server, console_errors):
    import base64

    from studio.metadata import writer
    from tests.factories import png_bytes

    metadata = {
        "model": "offline",
        "prompt": "a paper boat on a pond",
        "width": 832,
        "height": 1216,
        "quality": "high",
        "seed": 4242,
        "options": {},
    }
    png = base64.b64encode(writer.with_png_chunks(png_bytes(), metadata)).decode()
    make_user(username="erin")
    open_studio(page, live_server, "erin")
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const files = new DataTransfer();
            files.items.add(new File([bytes], "boat.png", {type: "image/png"}));
            const target = document.querySelector("#id_prompt");
            for (const type of ["dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: files}));
            }
        }""",
        png,
    )
    expect(page.get_by_role("status")).to_have_text("Settings restored from the image.")
    expect(page.locator("#id_prompt")).to_have_value("a paper boat on a pond")
    expect(page.locator("#id_size")).to_have_value("832x1216")
    expect(page.locator("#id_quality")).to_have_value("high")
    expect(page.locator("#id_seed")).to_have_value("4242")
    assert console_errors == []
