"""In headless Chromium: cards update live, actions work in place, older jobs load as you scroll,
and the prompt history puts prompts back."""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from studio.models import Job
from tests.conftest import log_in
from tests.factories import make_image, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def console_errors(page: Page):
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def quick_live(settings):
    settings.LIVE_WAIT_SECONDS = 5


def test_a_finished_jobs_image_appears_without_a_reload(page: Page, live_server, quick_live, console_errors):
    owner = make_user(username="fay")
    job = make_job(owner=owner, status=Job.Status.RUNNING, started_at=timezone.now())
    log_in(page, live_server, "fay")
    card = page.locator(f"#job-{job.pk}")
    expect(card.locator(".badge")).to_have_text("Running")
    page.evaluate("() => { window.notReloaded = true; }")
    Job.objects.filter(pk=job.pk).update(progress=50)
    expect(card).to_contain_text("Rendering 50%")
    make_image(job)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, finished_at=timezone.now())
    expect(card.locator(".results img")).to_have_count(1)
    assert page.evaluate("() => window.notReloaded") is True
    card.get_by_role("button", name="Favourite").click()
    expect(card.get_by_role("button", name="Favourite")).to_have_attribute("aria-pressed", "true")
    card.get_by_role("button", name="Vary").click()
    variation = page.locator(".job-card").first
    expect(variation).not_to_have_id(f"job-{job.pk}")
    expect(variation).to_contain_text("#1 in the queue")
    expect(variation.locator("input[name=watch]")).to_have_count(1)
    assert Job.objects.get(operation="variation").source_image_id == job.images.get().pk
    assert console_errors == []


def test_older_jobs_load_as_the_list_scrolls(page: Page, live_server, console_errors):
    owner = make_user(username="gus")
    for i in range(30):
        make_job(owner=owner, status=Job.Status.FAILED, prompt=f"old prompt {i}", error_message="no")
    log_in(page, live_server, "gus")
    cards = page.locator(".job-card")
    expect(cards).to_have_count(12)
    for expected in (24, 30):
        page.locator("#older-jobs").scroll_into_view_if_needed()
        expect(cards).to_have_count(expected)
    expect(page.locator("#older-jobs")).to_have_count(0)
    expect(cards.last).to_contain_text("old prompt 0")
    assert console_errors == []


def test_prompt_history_search_and_the_up_arrow(page: Page, live_server, console_errors):
    owner = make_user(username="hal")
    for prompt in ("a red fox in snow", "a lighthouse at dusk", "the last thing I asked for"):
        make_job(owner=owner, status=Job.Status.CANCELED, prompt=prompt)
    log_in(page, live_server, "hal")
    prompt = page.locator("#id_prompt")
    prompt.focus()
    page.keyboard.press("ArrowUp")
    expect(prompt).to_have_value("the last thing I asked for")
    prompt.fill("")
    page.get_by_text("Prompt history").click()
    history = page.locator("#prompt-history")
    expect(history.get_by_role("button")).to_have_count(3)
    page.get_by_placeholder("Search your prompts").fill("fox")
    expect(history.get_by_role("button")).to_have_count(1)
    history.get_by_role("button", name="a red fox in snow").click()
    expect(prompt).to_have_value("a red fox in snow")
    expect(prompt).to_be_focused()
    assert console_errors == []
