"""Job cards are watched until final; cancel and retry act on them; they are private to their owner."""

import pytest
from django.urls import reverse

from studio.models import Job
from tests.factories import make_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize("status", [Job.Status.QUEUED, Job.Status.RUNNING])
def test_unfinished_card_is_watched_by_the_live_updates(alice, user, status):
    job = make_job(owner=user, status=status)
    html = alice.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()
    assert f'name="watch" value="{job.pk}:{status}.' in html and "Cancel" in html


@pytest.mark.parametrize("status", Job.FINAL)
def test_final_card_is_no_longer_watched(alice, user, status):
    job = make_job(owner=user, status=status, error_message="The provider said no.")
    html = alice.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()
    assert 'name="watch"' not in html
    if status == Job.Status.FAILED:
        assert "The provider said no." in html and "Retry" in html


def test_cancel_a_queued_job(alice, user):
    job = make_job(owner=user)
    response = alice.post(reverse("studio:job_cancel", args=[job.pk]), **HTMX)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED and 'name="watch"' not in response.content.decode()


def test_cancel_a_finished_job_changes_nothing(alice, user):
    job = make_job(owner=user, status=Job.Status.SUCCEEDED)
    alice.post(reverse("studio:job_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED


def test_retry_a_failed_job_queues_a_copy(alice, user, run_jobs_inline):
    job = make_job(owner=user, status=Job.Status.FAILED, error_kind="timeout", params=valid_params())
    with run_jobs_inline(execute=True):
        response = alice.post(reverse("studio:job_retry", args=[job.pk]), **HTMX)
    retry = Job.objects.exclude(pk=job.pk).get()
    assert (retry.prompt, retry.params) == (job.prompt, job.params)
    assert f'id="job-{retry.pk}"' in response.content.decode()
    retry.refresh_from_db()
    assert retry.status == Job.Status.SUCCEEDED


def test_other_users_cannot_see_or_cancel_a_job(client_for, other_user, user):
    job = make_job(owner=user)
    bob = client_for(other_user)
    assert bob.get(reverse("studio:job", args=[job.pk])).status_code == 404
    assert bob.post(reverse("studio:job_cancel", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def valid_params(**overrides):
    params = {"width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "draft", "n": 1, "seed": 7,
              "options": {}, "version": 2}  # fmt: skip
    return {**params, **overrides}


def test_retry_revalidates_and_says_which_setting_no_longer_holds(alice, user):
    job = make_job(owner=user, status=Job.Status.FAILED, error_kind="timeout", params=valid_params(quality="hd"))
    response = alice.post(reverse("studio:job_retry", args=[job.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "no quality “hd”" in html
    assert f"?job={job.pk}" in html and "Edit and retry" in html
    assert Job.objects.count() == 1


def test_retry_of_a_job_whose_model_is_gone_says_so(alice, user):
    job = make_job(owner=user, status=Job.Status.FAILED, model_id="gpt-image-0", params=valid_params())
    html = alice.post(reverse("studio:job_retry", args=[job.pk]), **HTMX).content.decode()
    assert "“gpt-image-0” no longer exists" in html and Job.objects.count() == 1


def test_edit_and_retry_refills_the_form_and_marks_what_no_longer_holds(alice, user):
    job = make_job(owner=user, status=Job.Status.FAILED, prompt="a red kite", params=valid_params(quality="hd"))
    html = alice.get(reverse("studio:home"), {"job": job.pk}).content.decode()
    assert "a red kite" in html and "no quality “hd”" in html and "What no longer holds is marked" in html


def test_only_failed_or_canceled_jobs_can_be_retried(alice, user):
    job = make_job(owner=user, status=Job.Status.SUCCEEDED, params=valid_params())
    alice.post(reverse("studio:job_retry", args=[job.pk]), **HTMX)
    assert Job.objects.count() == 1


def test_edit_and_retry_reads_the_job_through_the_codec_and_says_when_it_cannot(alice, user):
    version_1 = {k: v for k, v in valid_params(quality="high").items() if k != "version"}
    job = make_job(owner=user, status=Job.Status.FAILED, prompt="a red kite", params=version_1)
    html = alice.get(reverse("studio:home"), {"job": job.pk}).content.decode()
    assert "a red kite" in html and "Only the prompt could be restored" in html and "unknown format" in html
