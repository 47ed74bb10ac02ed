"""Queued cards say where they stand in the queue and when their images should be in."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from studio import queue
from studio.models import Job
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


def finished_run(model_id: str, seconds: float) -> Job:
    start = timezone.now() - timedelta(minutes=5)
    return make_job(
        model_id=model_id, status=Job.Status.SUCCEEDED, started_at=start, finished_at=start + timedelta(seconds=seconds)
    )


def test_positions_count_every_users_queued_jobs_ahead(user):
    someone = make_user()
    first = make_job(owner=someone)
    make_job(owner=someone, status=Job.Status.RUNNING)  # running jobs are no longer in the queue
    second, third = make_job(owner=user), make_job(owner=user)
    assert queue.positions([(j.pk, j.queued_at) for j in (first, second, third)]) == {
        first.pk: 1,
        second.pk: 2,
        third.pk: 3,
    }


def test_typical_seconds_is_the_median_of_recent_runs_of_that_model():
    for seconds in (2, 4, 30):
        finished_run("offline", seconds)
    finished_run("flux-schnell", 9)
    assert queue.typical_seconds(["offline", "dall-e-3"]) == {"offline": 4}


def test_eta_counts_the_rounds_of_workers_ahead(user, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2}
    finished_run("offline", 10)
    waiting = [make_job(owner=user) for _ in range(3)]
    queue.annotate(waiting)
    assert [j.queue_position for j in waiting] == [1, 2, 3]
    assert [j.eta_seconds for j in waiting] == [10, 10, 20]


def test_a_running_job_counts_down_from_the_typical_run(user):
    finished_run("offline", 10)
    running = make_job(owner=user, status=Job.Status.RUNNING, started_at=timezone.now() - timedelta(seconds=4))
    queue.annotate([running])
    assert 5 < running.eta_seconds <= 6


def test_a_model_never_run_here_has_no_eta(user):
    job = make_job(owner=user)
    queue.annotate([job])
    assert job.queue_position == 1 and job.eta_seconds is None


def test_the_card_shows_position_eta_and_a_placeholder_per_image_in_its_aspect(alice, user):
    finished_run("offline", 12)
    make_job(owner=make_user())
    params = {"width": 1344, "height": 768, "aspect_ratio": "16:9", "quality": "draft", "n": 3, "seed": 1,
              "options": {}, "version": 2}  # fmt: skip
    job = make_job(owner=user, params=params)
    html = alice.get(reverse("studio:job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "#2 in the queue" in html and "about 12 s" in html
    assert html.count('<svg class="placeholder" viewBox="0 0 1344 768"') == 3


@pytest.mark.parametrize("count", [2, 12])
def test_studio_page_queries_do_not_grow_with_its_jobs(alice, user, count, django_assert_num_queries):
    statuses = [Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.SUCCEEDED, Job.Status.FAILED]
    for i in range(count):
        make_job(owner=user, status=statuses[i % 4])
    # session, user, jobs, images (favourites marked), queue places, typical durations
    with django_assert_num_queries(6):
        alice.get(reverse("studio:home"))
