"""Jobs run through the real django-q2 path: ORM broker, a qcluster process, our task function."""

import pytest

from studio import specs
from studio.jobs import job_create
from studio.models import Job
from tests.conftest import wait_for
from tests.factories import make_user

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_submitted_job_is_picked_up_and_finished_by_the_worker(worker):
    request = specs.build(model="offline", prompt="harbor at dawn", quality="draft", n=2)
    job = job_create(owner=make_user(), request=request)

    def finished():
        job.refresh_from_db()
        return job.is_final

    assert wait_for(finished, timeout=60), f"job still {job.status} after 60 s"
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert job.images.count() == 2
    assert job.started_at > job.queued_at
