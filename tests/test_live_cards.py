"""The studio's live updates: a long-poll that answers with the cards that changed, and only then."""

import threading
import time

import pytest
from django.urls import reverse

from studio import live
from studio.models import Job
from tests.factories import make_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def quick_polls(settings):
    settings.LIVE_WAIT_SECONDS = 0.3
    settings.LIVE_CHECK_SECONDS = 0.01


def poll(client, watch, page=""):
    started = time.monotonic()
    response = client.get(reverse("studio:job_updates"), {"watch": watch, "page": page}, **HTMX)
    return response.content.decode(), time.monotonic() - started


def test_nothing_changed_waits_then_rearms_without_cards(alice, user):
    job = make_job(owner=user, status=Job.Status.RUNNING)
    html, took = poll(alice, [f"{job.pk}:{job.live_state}"], "pagetoken1")
    assert took >= 0.3
    assert 'id="live"' in html and 'hx-trigger="load,' in html and 'name="page" value="pagetoken1"' in html
    assert "job-card" not in html


def test_a_finished_job_is_sent_at_once_as_an_out_of_band_card(alice, user, settings):
    settings.LIVE_WAIT_SECONDS = 30
    job = make_job(owner=user, status=Job.Status.RUNNING)
    shown = job.live_state
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    html, took = poll(alice, [f"{job.pk}:{shown}"])
    assert took < 5
    assert f'id="job-{job.pk}" aria-busy="false" hx-swap-oob="true"' in html


def test_progress_counts_as_a_change(alice, user, settings):
    settings.LIVE_WAIT_SECONDS = 30
    job = make_job(owner=user, status=Job.Status.RUNNING)
    shown = job.live_state
    Job.objects.filter(pk=job.pk).update(progress=40)
    html, _ = poll(alice, [f"{job.pk}:{shown}"])
    assert "Rendering 40%" in html


def test_a_newer_poll_of_the_same_page_ends_the_older_one(user, settings):
    settings.LIVE_WAIT_SECONDS = 30
    job = make_job(owner=user, status=Job.Status.RUNNING)
    watch = live.Watch({job.pk: job.live_state}, "page1")
    done = []
    older = threading.Thread(target=lambda: done.append(live.wait_for_change(watch=watch, viewer=user)))
    older.start()
    deadline = time.monotonic() + 5
    while live._slots.latest.get("page1") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    ticket = object()
    assert live._slots.take(10, "page1", ticket)  # what a newer poll of the page does first
    older.join(timeout=5)
    live._slots.give("page1", ticket)
    assert done and done[0].changed == [] and not older.is_alive()


def test_other_peoples_jobs_are_not_sent(alice, other_user):
    theirs = make_job(owner=other_user, status=Job.Status.SUCCEEDED)
    html, _ = poll(alice, [f"{theirs.pk}:running..."])
    assert "job-card" not in html


def test_when_too_many_wait_the_page_polls_every_second(alice, user, settings, monkeypatch):
    settings.LIVE_MAX_WAITING = 1
    job = make_job(owner=user, status=Job.Status.RUNNING)
    assert live._slots.take(1)
    try:
        html, took = poll(alice, [f"{job.pk}:{job.live_state}"])
    finally:
        live._slots.give()
    assert took < 0.3 and 'hx-trigger="load delay:1s,' in html
    assert f'id="job-{job.pk}"' not in html  # nothing changed


def test_when_too_many_wait_a_change_still_comes_back_at_once(alice, user, settings):
    """A busy server cannot wait with the page, but still looks once: a finished job's card comes
    back in the answer, not after the polls that hold the threads have ended."""
    settings.LIVE_MAX_WAITING = 1
    job = make_job(owner=user, status=Job.Status.RUNNING)
    state = job.live_state
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    assert live._slots.take(1)
    try:
        html, took = poll(alice, [f"{job.pk}:{state}"])
    finally:
        live._slots.give()
    assert took < 0.3 and 'hx-trigger="load delay:1s,' in html and f'id="job-{job.pk}"' in html


def test_junk_watch_values_are_ignored(alice):
    html, _ = poll(alice, ["x:y", "99999999999999999:z", ""], "<script>")
    assert "job-card" not in html and "<script>" not in html


@pytest.mark.parametrize("count", [1, 6])
def test_one_look_costs_the_same_queries_however_many_cards(user, count, django_assert_num_queries):
    watched = [make_job(owner=user) for _ in range(count)]
    watch = live.Watch({job.pk: "stale" for job in watched})
    with django_assert_num_queries(2):  # the jobs, then their places in the queue
        changed = live._look(watch, user)
    assert sorted(changed) == sorted(job.pk for job in watched)


def test_non_ascii_digits_are_junk_too():
    assert live.parse(["\xb2:queued...", "12:queued..."], "pag\xe9") == live.Watch({12: "queued..."}, "")
