"""Retry of a failed job whose provider-side job may still hold the paid result (Job.result_held)
collects it: a new job takes it over (Job.collected_from), polls only, never a second purchase, and
only once, however often the button is pressed. A job the provider failed, stopped or the user
canceled is bought anew. The card and the API say which happens."""

import json
import threading
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, hash_token
from studio import jobs, pricing, providers, specs, spending, tasks
from studio.models import Budget, Job
from studio.providers import replicate
from studio.providers.base import ErrorKind
from tests.conftest import wait_for
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TIMED_OUT = "Replicate did not finish in time." + tasks.NOT_RETRIED + jobs.COLLECT_ADVICE
PARAMS = {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "standard", "n": 1,
          "seed": 7, "options": {}}  # fmt: skip


class Stopped(Exception):
    """The runner stopped waiting (its deadline passed) once the prediction was bought."""


@pytest.fixture
def replicate_fast(replicate_emulator, settings, monkeypatch):
    settings.REPLICATE_WAIT_SECONDS = 0
    monkeypatch.setattr(replicate, "POLL_SECONDS", 0.02)
    return replicate_emulator


def bought_then_failed(owner, kind: ErrorKind = ErrorKind.TIMEOUT, message: str = TIMED_OUT, *, held=True) -> Job:
    """A Replicate job whose prediction was created (and is being made), then failed as `kind`
    with the prediction's id kept, as the runner leaves a job whose polls failed to the deadline
    (`held`), or one the provider ended (not held)."""
    request = specs.build(model="flux-schnell", prompt="a harbour at dawn", seed=4, available=False)
    job = jobs.job_create(owner=owner, request=request, enqueue=False)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now(), attempts=1)
    report = tasks._progress(job.pk)

    def stop_once_bought(provider_job_id, percent, /, preview=None):
        report(provider_job_id, percent)
        raise Stopped

    with pytest.raises(Stopped):
        providers.get_provider("replicate").generate(request, stop_once_bought)
    jobs.job_fail(job.pk, kind, message, result_held=held)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.provider_job_id
    return job


@pytest.fixture
def replicate_configured(settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "replicate": {"api_key": "test", "base_url": "http://x"},
    }


@pytest.fixture
def no_broker(monkeypatch):
    """Jobs are queued (and stay queued): the broker is not asked."""
    monkeypatch.setattr(jobs, "check_queue", lambda: None)
    monkeypatch.setattr(jobs, "send_tasks", lambda *a, **k: None)


def held(owner, **fields) -> Job:
    """A failed Replicate job whose prediction may still hold the paid result."""
    row = {"status": Job.Status.FAILED, "model_id": "flux-schnell", "error_kind": "timeout", "provider_job_id": "p1",
           "error_message": TIMED_OUT, "result_held": True, "params": PARAMS, **fields}  # fmt: skip
    return make_job(owner, **row)


def creates(emulator) -> list:
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/predictions")]


def retry(client, job, **data):
    return client.post(reverse("studio:job_retry", args=[job.pk]), data, **HTMX)


def card(client, job) -> str:
    return client.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()


def test_retry_of_a_timed_out_prediction_collects_it_without_buying_again(alice, user, replicate_fast, run_jobs_inline):
    failed = bought_then_failed(user)
    prediction = failed.provider_job_id
    html = card(alice, failed)
    assert "Collect result" in html and 'name="collect" value="1"' in html and "data-collect-hint" in html
    assert ">Retry<" not in html

    polls_before = len(replicate_fast.requests)
    with run_jobs_inline(execute=True):
        response = retry(alice, failed, collect="1")
    assert "Collecting the provider's result" in response.content.decode()
    collect = Job.objects.exclude(pk=failed.pk).get()
    assert collect.status == Job.Status.SUCCEEDED, collect.error_message
    assert collect.collected_from == failed and collect.provider_job_id == prediction and collect.images.count() == 1
    assert len(creates(replicate_fast)) == 1  # the original purchase only
    polled = [r for r in replicate_fast.requests[polls_before:] if r.path == f"/v1/predictions/{prediction}"]
    assert polled and all(r.method == "GET" for r in polled)
    # Handed over: the failed job no longer collects, and its card offers Run anew alone.
    failed.refresh_from_db()
    assert not failed.result_held and not jobs.job_collects(failed)
    html = card(alice, failed)
    assert f"Job {collect.pk} took this result over" in html and "data-run-anew" in html
    assert "data-collect" not in html and 'name="collect"' not in html and ">Retry<" not in html


def test_retry_buys_anew_when_the_provider_ended_the_job_without_a_result(alice, user, replicate_fast, run_jobs_inline):
    failed = bought_then_failed(user, ErrorKind.INVALID_REQUEST, "The prediction failed.", held=False)
    html = card(alice, failed)
    assert ">Retry<" in html and "Collect result" not in html
    with run_jobs_inline(execute=True):
        retry(alice, failed)
    again = Job.objects.exclude(pk=failed.pk).get()
    assert again.status == Job.Status.SUCCEEDED, again.error_message
    assert again.collected_from is None and again.provider_job_id != failed.provider_job_id
    assert len(creates(replicate_fast)) == 2


def test_a_canceled_job_is_bought_anew():
    job = make_job(status=Job.Status.CANCELED, model_id="flux-schnell", provider_job_id="p1", error_kind="")
    assert not jobs.job_collects(job)


def test_run_anew_buys_again_although_the_result_could_be_collected(alice, user, replicate_fast, run_jobs_inline):
    failed = bought_then_failed(user)
    with run_jobs_inline(execute=True):
        retry(alice, failed, fresh="1")
    again = Job.objects.exclude(pk=failed.pk).get()
    assert again.status == Job.Status.SUCCEEDED and again.collected_from is None and len(creates(replicate_fast)) == 2
    failed.refresh_from_db()
    assert failed.provider_job_id and jobs.job_collects(failed)  # still there to collect


def test_a_synchronous_provider_has_nothing_to_collect(user):
    job = make_job(owner=user, status=Job.Status.FAILED, model_id="gpt-image-1.5", error_kind="timeout",
                   provider_job_id="req_123", error_message="OpenAI timed out.", result_held=True)  # fmt: skip
    assert not jobs.job_collects(job)


def test_a_collection_is_not_refused_for_a_setting_the_catalog_no_longer_offers(user, replicate_configured):
    """The image was bought already: only a new purchase must keep today's rules."""
    job = held(user, params={**PARAMS, "quality": "ultra"})
    with pytest.raises(specs.Invalid):
        jobs.job_retry(job=job, by=user, fresh=True)
    collect = jobs.job_retry(job=job, by=user)
    assert collect.provider_job_id == "p1" and collect.params["quality"] == "ultra"


def test_two_retries_racing_for_one_prediction_collect_it_once(user, replicate_configured):
    job = held(user)
    stale = Job.objects.get(pk=job.pk)  # loaded by a second request before the first retry
    collect = jobs.job_retry(job=job, by=user)
    with pytest.raises(jobs.ResultHandedOver, match=f"Job {collect.pk} is collecting this result. Run anew pays"):
        jobs.job_retry(job=stale, by=user)
    assert Job.objects.filter(provider_job_id="p1").exclude(pk=job.pk).count() == 1


# --- 1. a second click, a stale card, a re-POST: never a second purchase ---------------------------


@pytest.mark.parametrize("second", [{"collect": "1"}, {}], ids=["collect-again", "stale-retry"])
def test_a_second_click_is_refused_and_buys_nothing(alice, user, replicate_configured, no_broker, second):
    job = held(user)
    assert retry(alice, job, collect="1").status_code == 200
    collect = Job.objects.exclude(pk=job.pk).get()
    html = retry(alice, job, **second).content.decode()
    assert f"Job {collect.pk} is collecting this result. Run anew pays again." in html
    assert list(Job.objects.exclude(pk=job.pk).values_list("pk", flat=True)) == [collect.pk]


def test_the_handed_over_message_follows_the_collection(user, replicate_configured, no_broker):
    job = held(user)
    collect = jobs.job_retry(job=job, by=user)
    Job.objects.filter(pk=collect.pk).update(status=Job.Status.SUCCEEDED)
    with pytest.raises(jobs.ResultHandedOver, match=f"Job {collect.pk} collected this result"):
        jobs.job_retry(job=job, by=user)
    Job.objects.filter(pk=collect.pk).update(status=Job.Status.FAILED, result_held=True)
    with pytest.raises(jobs.ResultHandedOver, match=f"Job {collect.pk} holds this result now; Collect result there"):
        jobs.job_retry(job=job, by=user, collect=True)
    Job.objects.filter(pk=collect.pk).update(result_held=False)
    with pytest.raises(jobs.ResultHandedOver, match="tried to collect this result and ended without it"):
        jobs.job_retry(job=job, by=user)
    assert jobs.job_retry(job=job, by=user, fresh=True).collected_from is None  # asked for: bought anew


@pytest.fixture
def api(user):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="t", digest=hash_token(raw), hint=raw[:8])
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def api_retry(api, job, body=None):
    return api.post(f"/api/v1/jobs/{job.pk}/retry", json.dumps(body or {}), content_type="application/json")


def test_the_api_collects_once_and_answers_409_to_a_second_retry(api, user, replicate_configured, no_broker):
    job = held(user)
    first = api_retry(api, job)
    assert first.status_code == 201 and first.json()["retry"] == {"of": job.pk, "collects": True}
    assert first.json()["collected_from"] == job.pk
    again = api_retry(api, job)
    assert again.status_code == 409 and again.json()["error"]["kind"] == "result_handed_over"
    assert f"Job {first.json()['id']} is collecting this result" in again.json()["error"]["message"]
    detail = api.get(f"/api/v1/jobs/{job.pk}").json()
    assert detail["retry_collects"] is False and detail["collected_by"] == first.json()["id"]
    fresh = api_retry(api, job, {"fresh": True})
    assert fresh.status_code == 201 and fresh.json()["retry"] == {"of": job.pk, "collects": False}
    assert Job.objects.filter(collected_from=job).count() == 1


def test_collect_is_refused_where_nothing_can_be_collected(alice, api, user, replicate_configured, no_broker):
    job = held(user, result_held=False, error_message="Replicate canceled prediction p1 before it made an image.")
    html = retry(alice, job, collect="1").content.decode()
    assert "holds no result of this job to collect" in html and "Retry runs it anew and pays again" in html
    response = api_retry(api, job, {"collect": True})
    assert response.status_code == 409 and response.json()["error"]["kind"] == "nothing_to_collect"
    both = api_retry(api, job, {"collect": True, "fresh": True})
    assert both.status_code == 409
    assert Job.objects.count() == 1


# --- 4. canceling a collection keeps the paid result -----------------------------------------------


def test_canceling_a_collection_leaves_the_prediction_running_and_collectable(
    alice, user, replicate_fast, transactional_db, no_broker
):
    replicate_fast.latency = 10
    failed = bought_then_failed(user)
    collect = jobs.job_retry(job=failed, by=user, collect=True)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(tasks.run_job(collect.pk)))
    worker.start()
    assert wait_for(lambda: Job.objects.get(pk=collect.pk).status == Job.Status.RUNNING, timeout=10), outcome
    alice.post(reverse("studio:job_cancel", args=[collect.pk]), **HTMX)
    worker.join(timeout=10)
    assert outcome == ["discarded: canceled while running"]
    assert not [r for r in replicate_fast.requests if r.path.endswith("/cancel")]
    assert not replicate_fast.predictions[failed.provider_job_id].canceled
    collect.refresh_from_db()
    assert collect.status == Job.Status.CANCELED and collect.result_held and jobs.job_collects(collect)
    assert "Collect result" in card(alice, collect)
    # Collected again, from the canceled collection: still no second purchase.
    replicate_fast.predictions[failed.provider_job_id].latency = 0.05
    again = jobs.job_retry(job=collect, by=user, collect=True)
    assert tasks.run_job(again.pk) == "succeeded"
    assert again.images.count() == 1 and len(creates(replicate_fast)) == 1


def test_canceling_a_queued_collection_keeps_the_result_held(user, replicate_configured, no_broker):
    collect = jobs.job_retry(job=held(user), by=user)
    assert jobs.job_cancel(job=collect)
    collect.refresh_from_db()
    assert collect.result_held and jobs.job_collects(collect)


def test_canceling_a_purchase_holds_nothing(user):
    job = make_job(owner=user, status=Job.Status.RUNNING, model_id="flux-schnell", provider_job_id="p1", attempts=1)
    assert jobs.job_cancel(job=job)
    job.refresh_from_db()
    assert not job.result_held and not jobs.job_collects(job)


# --- 7. budgets and the active cap -----------------------------------------------------------------


def test_a_collection_passes_the_budget_and_the_active_job_cap(alice, user, replicate_configured, no_broker, settings):
    job = held(user)
    Budget.objects.create(user=user, monthly_usd=Decimal("0"))
    settings.JOB_USER_MAX_ACTIVE = 1
    make_job(owner=user, status=Job.Status.RUNNING, model_id="offline")
    html = retry(alice, job, fresh="1").content.decode()
    assert "already have 1 jobs queued or running" in html  # a purchase meets the cap
    assert Job.objects.filter(collected_from=job).count() == 0
    settings.JOB_USER_MAX_ACTIVE = 10
    assert "budget" in retry(alice, job, fresh="1").content.decode()  # and the budget
    retry(alice, job, collect="1")
    assert Job.objects.filter(collected_from=job).count() == 1  # a collection buys nothing


def test_a_held_failure_counts_at_its_estimate_until_collected_and_then_once(user, replicate_configured, no_broker):
    job = held(user)
    estimate = pricing.estimate("flux-schnell", "generate", PARAMS)
    assert estimate and jobs.month_spend(user) == estimate
    Budget.objects.create(user=user, monthly_usd=estimate * 3 / 2)
    with pytest.raises(jobs.BudgetExceeded):  # Run anew after a timeout is a second purchase
        jobs.job_retry(job=job, by=user, fresh=True)
    collect = jobs.job_retry(job=job, by=user)
    assert jobs.month_spend(user) == estimate  # handed over: counted on the collection
    Job.objects.filter(pk=collect.pk).update(status=Job.Status.SUCCEEDED, cost=estimate)
    assert jobs.month_spend(user) == estimate == spending.month_spend_by_owner()[user.pk]


# --- 8. staff collecting someone's result ----------------------------------------------------------


def test_staff_collecting_another_users_result_keeps_it_theirs(client_for, user, replicate_configured, no_broker):
    staff = make_user(is_staff=True)
    job = held(user)
    client_for(staff).post(reverse("studio:job_retry", args=[job.pk]), {"collect": "1"}, **HTMX)
    assert Job.objects.get(collected_from=job).owner == user


# --- 5. a result storage refused is collected without counting its cost twice -------------------


def test_a_result_storage_refused_is_collected_and_its_cost_counted_once(
    alice, user, replicate_emulator, settings, runner_waits
):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "tests.failing_storage.ReadOnlyStorage"}}
    job = make_job(owner=user, model_id="flux-schnell", params=PARAMS)
    assert tasks.run_job(job.pk) == "failed: storage"
    job.refresh_from_db()
    assert job.cost and job.result_held and jobs.job_collects(job)
    assert "Collect result then fetches it again without paying again" in job.error_message
    assert "Collect result" in card(alice, job)
    assert jobs.month_spend(user) == job.cost

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    collect = jobs.job_retry(job=job, by=user, collect=True)
    assert jobs.month_spend(user) == job.cost  # queued: not estimated on top
    assert tasks.run_job(collect.pk) == "succeeded"
    collect.refresh_from_db()
    assert collect.images.count() == 1 and len(creates(replicate_emulator)) == 1
    assert collect.cost == 0 and collect.usage["paid_on_job"] == job.pk
    assert f"paid on job {job.pk}" in card(alice, collect)
    assert jobs.month_spend(user) == job.cost == spending.month_spend_by_owner()[user.pk]
    today = timezone.localdate()
    assert spending.report(date(today.year, today.month, 1), today).total == job.cost
    costs = alice.get(reverse("studio:costs")).content.decode()
    assert f"${job.cost:.2f}" in costs or f"{job.cost.normalize()}" in costs
