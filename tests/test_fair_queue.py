"""The next job goes to whoever has the fewest running: one user's burst cannot hold every worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from studio import jobs
from studio.models import Job
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


def queued(owner, count, start):
    """`count` queued jobs of the owner, one a second from `start` (queued_at is set on create)."""
    made = [make_job(owner=owner) for _ in range(count)]
    for i, job in enumerate(made):
        Job.objects.filter(pk=job.pk).update(queued_at=start + timedelta(seconds=i))
    return made


def claim() -> Job:
    job_id, _ = jobs.job_claim_next()
    return Job.objects.get(pk=job_id)


def test_another_users_job_goes_next_while_one_user_has_fifty_queued():
    burst, single = make_user(username="burst"), make_user(username="single")
    start = timezone.now() - timedelta(minutes=5)
    queued(burst, 50, start)
    # Two workers took the burst's first jobs; then the other user submits.
    assert [claim().owner for _ in range(2)] == [burst, burst]
    mine = make_job(owner=single)
    assert claim() == mine  # the next free worker: not the burst's third job


def test_with_equal_shares_the_longest_waiting_job_goes_first():
    early, late = make_user(username="early"), make_user(username="late")
    [first] = queued(early, 1, timezone.now() - timedelta(minutes=1))
    make_job(owner=late)
    assert claim() == first


def test_within_one_user_jobs_run_in_the_order_they_were_queued():
    owner = make_user()
    jobs_in_order = [make_job(owner=owner) for _ in range(3)]
    assert [claim() for _ in range(3)] == jobs_in_order


def test_nothing_queued_claims_nothing():
    make_job(status=Job.Status.SUCCEEDED)
    assert jobs.job_claim_next() is None


def test_a_job_already_bought_by_a_dead_worker_goes_before_any_other():
    waiting = make_job()
    orphan = make_job(provider_job_id="prediction-1")  # queued again by recovery, its result waiting
    assert claim() == orphan
    assert claim() == waiting
