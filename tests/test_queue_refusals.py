"""A job the queue cannot take is refused before it exists: 503 when the broker is down, 429 at
the per-user cap; a clear message on the page, JSON on the API, nothing left to count."""

import json

import pytest
from django.urls import reverse
from django_q.conf import Conf

from accounts.models import ApiToken, hash_token
from studio import jobs
from studio.models import Job
from tests.cluster_rig import free_port
from tests.factories import make_job

pytestmark = pytest.mark.django_db
FORM = {"model": "offline", "prompt": "x", "size": "1024x1024", "quality": "draft", "n": "1"}


@pytest.fixture
def api(user, client):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="test", digest=hash_token(raw), hint=raw[:8])
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    return client


def post_api(api):
    return api.post("/api/v1/jobs", json.dumps({"model": "offline", "prompt": "x"}), content_type="application/json")


@pytest.fixture
def redis_down(monkeypatch):
    """The Redis broker, at an address where no Redis answers."""
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=1")
    jobs.broker.cache_clear()
    yield
    jobs.broker.cache_clear()


def test_the_page_answers_503_with_a_clear_message_when_the_queue_is_down(alice, redis_down):
    response = alice.post(reverse("studio:job_submit"), FORM, HTTP_HX_REQUEST="true")
    assert response.status_code == 503
    assert "The job queue is not answering right now, so nothing was queued or charged" in response.content.decode()
    assert not Job.objects.exists()


def test_the_api_answers_503_json_when_the_queue_is_down(api, redis_down):
    response = post_api(api)
    assert response.status_code == 503
    assert response.json()["error"]["kind"] == "queue_unavailable"
    assert not Job.objects.exists()


def test_the_page_refuses_a_job_past_the_per_user_cap_with_429(alice, user, settings):
    settings.JOB_USER_MAX_ACTIVE = 2
    make_job(owner=user)
    make_job(owner=user, status=Job.Status.RUNNING)
    make_job(owner=user, status=Job.Status.SUCCEEDED)  # finished jobs do not count
    response = alice.post(reverse("studio:job_submit"), FORM, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert "You already have 2 jobs queued or running, the most one person may have at once" in (
        response.content.decode()
    )
    assert Job.objects.count() == 3


def test_the_api_refuses_a_job_past_the_per_user_cap_with_429_json(api, user, other_user, settings):
    settings.JOB_USER_MAX_ACTIVE = 1
    make_job(owner=other_user)  # someone else's job does not count
    assert post_api(api).status_code == 201
    response = post_api(api)
    assert response.status_code == 429 and response.json()["error"]["kind"] == "too_many_jobs"
