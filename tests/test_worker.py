"""Jobs run through the real django-q2 path: ORM broker, a qcluster process, our task function."""

import pytest

from studio.forms import JobForm, form_data_from_api
from studio.jobs import job_create
from studio.models import Job
from tests.conftest import wait_for
from tests.factories import make_user

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_submitted_job_is_picked_up_and_finished_by_the_worker(worker):
    form = JobForm(form_data_from_api({"model": "offline", "prompt": "harbor at dawn", "quality": "draft", "n": 2}))
    assert form.is_valid(), form.errors
    job = job_create(owner=make_user(), spec=form.spec())

    def finished():
        job.refresh_from_db()
        return job.is_final

    assert wait_for(finished, timeout=60), f"job still {job.status} after 60 s"
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert job.images.count() == 2
    assert job.started_at > job.queued_at
