"""Whether the provider may still hold a failed job's paid result is a fact the runner records when
the job fails (Job.result_held), on the wire: held after a purchase whose provider-side job may
still finish or be fetched again (a poll refused or failing, a download failing for a passing
reason, a timeout); not held once the provider's answer is final (it canceled the job, no longer
knows it, deleted its output). The failure's message and the card's buttons both follow it."""

import pytest
from django.urls import reverse
from django_q.exceptions import TimeoutException

from studio import downloads, jobs, tasks
from studio.models import Job
from studio.providers import replicate
from tests.emulators.base import Fault
from tests.factories import make_job
from tests.migrating import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
POLL = "GET /v1/predictions/"
FILES = "GET /files/"
PARAMS = {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "standard", "n": 1,
          "seed": 1, "options": {}}  # fmt: skip


@pytest.fixture
def polling(replicate_emulator, monkeypatch, settings):
    """Predictions that take a while and are polled, quickly: no `Prefer: wait` on create."""
    monkeypatch.setattr(replicate, "POLL_SECONDS", 0.05)
    settings.REPLICATE_WAIT_SECONDS = 0
    replicate_emulator.latency = 0.3
    return replicate_emulator


@pytest.fixture(autouse=True)
def quick(monkeypatch, runner_waits):
    monkeypatch.setattr(downloads, "RETRY_SECONDS", 0.01)
    monkeypatch.setattr(jobs, "check_queue", lambda: None)
    monkeypatch.setattr(jobs, "send_tasks", lambda *a, **k: None)


def creates(emulator) -> list:
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/predictions")]


def cancels(emulator) -> list:
    return [r for r in emulator.requests if r.path.endswith("/cancel")]


def ran(owner, **fields) -> Job:
    """A flux-schnell job run by the runner; returned as it ended."""
    job = make_job(owner=owner, model_id="flux-schnell", params=PARAMS, **fields)
    tasks.run_job(job.pk)
    job.refresh_from_db()
    return job


def offers(client, job: Job) -> str:
    """What the failed job's message and card say Retry does, checked to agree with result_held:
    "collect" (Collect result and Run anew) or "anew" (Retry, which says it pays again)."""
    html = client.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()
    if job.result_held:
        assert jobs.COLLECT_ADVICE in job.error_message and jobs.ANEW_ADVICE not in job.error_message
        assert 'name="collect"' in html and "Run anew" in html and ">Retry<" not in html
        return "collect"
    assert "Collect result" not in job.error_message and 'name="collect"' not in html and ">Retry<" in html
    return "anew"


# --- 2. after the purchase, a poll's failure holds the result -------------------------------------


def test_a_key_refused_while_polling_holds_the_result_for_collect(polling, alice, user):
    """The key was rotated while the prediction ran: the prediction goes on, and its result is
    collected (once the key is fixed) instead of bought again."""
    polling.faults.append(Fault(on=POLL, status=401, body={"title": "Unauthenticated", "detail": "Invalid token"}))
    job = ran(user)
    assert job.error_kind == "auth" and "Replicate refused the API token" in job.error_message
    assert offers(alice, job) == "collect"
    assert cancels(polling) == [] and len(creates(polling)) == 1
    collect = jobs.job_retry(job=job, by=user)
    assert tasks.run_job(collect.pk) == "succeeded"
    assert collect.images.count() == 1 and len(creates(polling)) == 1


def test_a_poll_outage_until_the_deadline_holds_the_result(polling, alice, user, settings):
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 0.5
    polling.faults.append(Fault(on=POLL, status=503, body={"title": "Unavailable", "detail": "busy"}, times=1000))
    job = ran(user)
    assert job.error_kind == "unavailable" and offers(alice, job) == "collect"


# --- 3. the provider no longer holds the result ---------------------------------------------------


def test_a_prediction_replicate_no_longer_knows_is_not_held(polling, alice, user):
    polling.faults.append(Fault(on=POLL, status=404, body={"title": "Not found", "detail": "Not found."}))
    job = ran(user)
    assert f"Replicate no longer holds job {job.provider_job_id}" in job.error_message
    assert offers(alice, job) == "anew"


def test_a_result_gone_when_collected_says_so_and_retry_pays_again(replicate_emulator, alice, user):
    """Replicate deletes outputs after about an hour: the collection's download answers 404."""
    bought = ran(user)  # a prediction that succeeded
    failed = make_job(owner=user, model_id="flux-schnell", params=PARAMS, status=Job.Status.FAILED,
                      error_kind="timeout", provider_job_id=bought.provider_job_id, result_held=True,
                      error_message="Replicate did not finish in time.")  # fmt: skip
    replicate_emulator.faults.append(Fault(on=FILES, status=404, body=b""))
    collect = jobs.job_retry(job=failed, by=user, collect=True)
    assert tasks.run_job(collect.pk) == "failed: download"
    collect.refresh_from_db()
    assert "answered 404" in collect.error_message and "no longer holds it" in collect.error_message
    assert offers(alice, collect) == "anew"
    html = alice.post(reverse("studio:job_retry", args=[failed.pk]), {"collect": "1"}, **HTMX).content.decode()
    assert f"Job {collect.pk} tried to collect this result and ended without it" in html
    assert len(creates(replicate_emulator)) == 1


def test_a_succeeded_prediction_without_output_is_not_held(polling, alice, user):
    prediction = {"id": "x", "model": "m", "version": "v", "status": "succeeded", "input": {}, "output": None,
                  "logs": "", "error": None, "metrics": {}, "created_at": None, "urls": {}}  # fmt: skip
    polling.faults.append(Fault(on=POLL, status=200, body=prediction))
    job = ran(user)
    assert "without an image, or no longer holds it" in job.error_message
    assert offers(alice, job) == "anew"


def test_a_result_atelier_refuses_to_download_is_not_held(replicate_emulator, alice, user, settings):
    settings.DOWNLOAD_MAX_BYTES = 100
    job = ran(user)
    assert "over the 0 MB limit" in job.error_message or "limit is" in job.error_message
    assert "has charged for it" in job.error_message and offers(alice, job) == "anew"


def test_a_passing_download_failure_holds_the_result(replicate_emulator, alice, user):
    replicate_emulator.faults.append(Fault(on=FILES, status=502, body=b"", times=3))
    assert offers(alice, ran(user)) == "collect"


def test_a_midjourney_task_the_proxy_lost_is_not_held(midjourney_proxy, alice, user):
    failed = make_job(owner=user, model_id="midjourney-v7", status=Job.Status.FAILED, error_kind="timeout",
                      provider_job_id="gone0000", result_held=True, error_message="midjourney-proxy timed out.",
                      params={**PARAMS, "quality": "1"})  # fmt: skip
    collect = jobs.job_retry(job=failed, by=user, collect=True)
    tasks.run_job(collect.pk)
    collect.refresh_from_db()
    assert "midjourney-proxy no longer holds job gone0000" in collect.error_message
    assert offers(alice, collect) == "anew"


# --- 6. each way a job stops at its time limit says what its card offers -------------------------


def test_the_deadline_cancel_holds_nothing_and_says_retry_pays_again(polling, alice, user, settings):
    polling.latency = 5
    settings.PROVIDER_JOB_DEADLINE_SECONDS = 0.3
    job = ran(user)
    assert "so Atelier canceled it" in job.error_message and len(cancels(polling)) == 1
    assert offers(alice, job) == "anew"


def test_the_workers_timeout_after_the_purchase_holds_the_result_and_cancels_nothing(
    replicate_emulator, alice, user, monkeypatch
):
    """django-q2's timeout while the result was downloading: the prediction had succeeded, so
    canceling it would throw a paid result away."""

    def out_of_time(*args, **kwargs):
        raise TimeoutException

    monkeypatch.setattr(downloads, "download", out_of_time)
    job = ran(user)
    assert job.error_kind == "timeout" and "was stopped (timed out)" in job.error_message
    assert offers(alice, job) == "collect" and cancels(replicate_emulator) == []


def test_a_collection_that_times_out_still_holds_the_result(replicate_emulator, alice, user, monkeypatch):
    bought = ran(user)
    failed = make_job(owner=user, model_id="flux-schnell", params=PARAMS, status=Job.Status.FAILED,
                      error_kind="timeout", provider_job_id=bought.provider_job_id, result_held=True)  # fmt: skip
    collect = jobs.job_retry(job=failed, by=user)

    def out_of_time(*args, **kwargs):
        raise TimeoutException

    monkeypatch.setattr(downloads, "download", out_of_time)
    assert tasks.run_job(collect.pk) == "failed: timed out"
    collect.refresh_from_db()
    assert collect.attempts == 0 and offers(alice, collect) == "collect"


def test_a_failure_before_the_purchase_holds_nothing_and_says_nothing_of_paying(replicate_emulator, alice, user):
    replicate_emulator.faults.append(Fault(on="POST /v1/models/", status=422, body={"detail": "bad input"}))
    job = ran(user)
    assert job.error_message == "bad input" and not job.result_held
    assert offers(alice, job) == "anew"


# --- the migration sets result_held by the rule that decided Collect result before -----------------

BEFORE, AFTER = ("studio", "0014_params_drop_stability_options"), ("studio", "0015_result_held_collected_from")


@pytest.fixture
def latest_schema_afterwards():
    yield
    migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_the_migration_holds_the_results_the_old_rule_collected(latest_schema_afterwards):
    apps = migrate(BEFORE)
    owner = apps.get_model("auth", "User").objects.create(username="owner")
    OldJob = apps.get_model("studio", "Job")

    def row(model_id="flux-schnell", status="failed", kind="timeout", pid="p1", message="Replicate timed out."):
        fields = {"status": status, "error_kind": kind, "provider_job_id": pid, "error_message": message}
        return OldJob.objects.create(owner=owner, operation="generate", model_id=model_id, prompt="p", **fields).pk

    expected = {
        row(): True,
        row(kind="unavailable", model_id="midjourney-v7"): True,
        row(kind="rate_limited"): True,
        row(kind="internal"): True,
        row(kind="invalid_request"): False,  # the provider's own failure
        row(kind="auth"): False,
        row(kind="storage"): False,
        row(kind="unavailable", message=jobs.PROVIDER_STOPPED): False,
        row(pid=""): False,  # nothing bought, or handed over already
        row(status="canceled", kind=""): False,
        row(model_id="gpt-image-1.5"): False,  # a synchronous provider
        row(model_id="no-such-model"): False,
    }
    apps = migrate(AFTER)
    held = dict(apps.get_model("studio", "Job").objects.values_list("pk", "result_held"))
    assert held == expected
    apps = migrate(BEFORE)  # and back
    assert apps.get_model("studio", "Job").objects.count() == len(expected)
