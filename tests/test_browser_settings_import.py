"""In headless Chromium: a ComfyUI PNG dropped on the studio form goes onto the model picked there,
and the form says what could not be restored."""

import base64
import json

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import log_in
from tests.factories import make_user
from tests.metadata_examples import COMFYUI_DEFAULT_PROMPT, png_with

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_dropped_comfyui_png_goes_onto_the_model_picked_in_the_form(page: Page, live_server):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    make_user(username="fay")
    log_in(page, live_server, "fay")
    page.select_option("#id_model", "offline-mosaic")
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const files = new DataTransfer();
            files.items.add(new File([bytes], "comfy.png", {type: "image/png"}));
            const target = document.querySelector("#id_prompt");
            for (const type of ["dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: files}));
            }
        }""",
        base64.b64encode(png_with({"prompt": json.dumps(json.loads(COMFYUI_DEFAULT_PROMPT))})).decode(),
    )
    expect(page.get_by_role("status")).to_have_text("Settings restored from the image.")
    expect(page.locator("#id_model")).to_have_value("offline-mosaic")
    expect(page.locator("#id_prompt")).to_have_value("masterpiece best quality girl")
    expect(page.locator("#id_seed")).to_have_value("8566257")
    report = page.locator("[data-import-report]")
    expect(report).to_contain_text("Read ComfyUI settings onto Offline mosaic.")
    expect(report.locator(".not-restored")).to_contain_text("Sampler Euler: Offline mosaic has no such setting.")
    assert errors == [], json.dumps(errors)
