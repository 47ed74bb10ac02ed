"""Costs per person and model, and monthly budgets enforced before a job is queued."""

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from studio import catalog, pricing
from studio.jobs import BudgetExceeded, check_budget, month_spend
from studio.models import Budget, Job
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced(monkeypatch):
    """The offline sketch at $0.04 an image (it is free), so budgets have something to limit."""
    monkeypatch.setitem(catalog.MODELS["offline"].pricing.per_image, "draft", Decimal("0.04"))


def submit(client):
    data = {"model": "offline", "prompt": "x", "size": "1024x1024", "quality": "draft", "n": "2"}
    return client.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true")


def test_a_job_past_the_budget_is_refused_with_the_figures(alice, user, priced, run_jobs_inline):
    Budget.objects.create(user=user, monthly_usd=Decimal("0.10"))
    with run_jobs_inline(execute=True):
        assert submit(alice).status_code == 200  # $0.08 of $0.10
    assert Job.objects.get().cost == Decimal("0.08")
    response = submit(alice)
    assert response.status_code == 422
    assert "This job would cost $0.080, but only $0.02 is left of your $0.10 budget" in response.content.decode()
    assert Job.objects.count() == 1


def test_queued_jobs_count_against_the_budget(user, priced):
    Budget.objects.create(user=user, monthly_usd=Decimal("0.10"))
    make_job(owner=user, params={"width": 1024, "height": 1024, "quality": "draft", "n": 2, "seed": 1, "options": {}})
    assert month_spend(user) == Decimal("0.08")


def test_the_api_answers_403_when_over_budget(user, priced):
    Budget.objects.create(user=user, monthly_usd=Decimal("0.01"))
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="t", digest=hash_token(raw), hint=raw[:8])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"model": "offline", "prompt": "x", "quality": "draft"}
    response = api.post("/api/v1/jobs", json.dumps(body), content_type="application/json")
    assert response.status_code == 403 and response.json()["error"]["kind"] == "budget_exceeded"


def test_free_models_and_users_without_budget_are_not_limited(alice, user, run_jobs_inline):
    Budget.objects.create(user=user, monthly_usd=Decimal("0"))
    with run_jobs_inline(execute=True):
        assert submit(alice).status_code == 200


def test_cost_page_sums_per_person_and_model(alice, user, other_user):
    make_job(owner=user, status="succeeded", cost=Decimal("0.50"), model_id="dall-e-3", finished_at="2026-11-10T10:00Z")
    make_job(owner=other_user, status="succeeded", cost=Decimal("0.25"), finished_at="2026-11-11T10:00Z")
    make_job(owner=other_user, status="failed", cost=None, finished_at="2026-11-11T10:00Z")
    response = alice.get(reverse("studio:costs"), {"start": "2026-11-01", "end": "2026-11-30"})
    html = response.content.decode()
    assert response.context["report"].total == Decimal("0.75")
    assert "DALL·E 3" in html and "bob" in html and "0.5000" in html


def test_bad_dates_fall_back_with_a_notice(alice):
    assert "Dates are YYYY-MM-DD" in alice.get(reverse("studio:costs"), {"start": "yesterday"}).content.decode()


def test_only_staff_set_budgets(alice, client_for, user):
    assert alice.post(reverse("studio:budget_set", args=[user.pk]), {"monthly_usd": "5"}).status_code == 403
    staff = client_for(make_user(is_staff=True))
    staff.post(reverse("studio:budget_set", args=[user.pk]), {"monthly_usd": "12.5"})
    assert Budget.objects.get(user=user).monthly_usd == Decimal("12.50")
    response = staff.post(reverse("studio:budget_set", args=[user.pk]), {"monthly_usd": "lots"}, follow=True)
    assert "is not an amount in USD" in response.content.decode()
    staff.post(reverse("studio:budget_set", args=[user.pk]), {"monthly_usd": ""})
    assert not Budget.objects.exists()


def test_an_unpriced_setting_counts_at_the_models_highest_price(alice, user, settings):
    # GPT Image 1.5's `auto` quality has no price of its own: $0.133 (high) a image is assumed.
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"
    Budget.objects.create(user=user, monthly_usd=Decimal("0.05"))
    data = {"model": "gpt-image-1.5", "prompt": "x", "size": "1024x1024", "quality": "auto", "n": "1"}
    response = alice.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "This job would cost $0.133" in response.content.decode()
    assert not Job.objects.exists()


def test_a_model_without_any_price_is_refused_while_a_budget_is_set(alice, user, settings, monkeypatch):
    # Every built-in model has a price; one a user adds without one is "unknown".
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"
    monkeypatch.setitem(catalog.MODELS, "gpt-image-2", replace(catalog.MODELS["gpt-image-2"], pricing=None))
    data = {"model": "gpt-image-2", "prompt": "x", "size": "1024x1024", "quality": "low", "n": "1"}
    Budget.objects.create(user=user, monthly_usd=Decimal("100"))
    response = alice.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "GPT Image 2 has no known price yet" in response.content.decode()
    Budget.objects.all().delete()
    assert alice.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true").status_code == 200


def test_the_costs_page_states_the_budget_rule_for_unpriced_settings(alice, user):
    Budget.objects.create(user=user, monthly_usd=Decimal("5"))
    html = alice.get(reverse("studio:costs")).content.decode()
    assert (
        "counted at the model&#x27;s highest known price" in html
        or "counted at the model's highest known price" in html
    )


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2026-13-40", "²"])
def test_dates_out_of_range_fall_back_with_a_notice(alice, value):
    response = alice.get(reverse("studio:costs"), {"start": "2026-01-01", "end": value})
    assert response.status_code == 200 and "from 1900 to 2999" in response.content.decode()


def test_gpt_image_2_is_checked_against_budgets_at_its_per_image_figure(alice, user, settings):
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"
    Budget.objects.create(user=user, monthly_usd=Decimal("0.30"))
    data = {"model": "gpt-image-2", "prompt": "x", "size": "1024x1024", "quality": "high", "n": "2"}
    response = alice.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "This job would cost $0.422" in response.content.decode()
    data["n"] = "1"
    assert alice.post(reverse("studio:job_submit"), data, HTTP_HX_REQUEST="true").status_code == 200


@pytest.mark.parametrize(
    ("model_id", "operation", "params", "usd"),
    [
        # A free size beyond the figures: √(3840·2160 / 1024²) = 2.8125 × $0.211.
        ("gpt-image-2", "generate", {"width": 3840, "height": 2160, "quality": "high"}, "0.5934"),
        ("gpt-image-2", "generate", {"width": 1536, "height": 1024, "quality": "medium", "n": 3}, "0.1230"),
        ("gpt-image-1.5", "edit", {"width": 1024, "height": 1536, "quality": "auto"}, "0.2000"),  # auto: the highest
        ("gpt-image-2.5-flare", "generate", {"width": 1024, "height": 1024, "quality": "max"}, "0.8440"),
        ("stable-image-core", "erase", {"width": 64, "height": 64, "quality": "standard"}, "0.0500"),
        ("stable-image-ultra", "upscale", {"width": 128, "height": 96, "quality": "standard"}, "0.6000"),
        ("flux-schnell", "generate", {"width": 1024, "height": 1024, "quality": "standard", "n": 4}, "0.0120"),
        ("midjourney-v7", "generate", {"width": 1024, "height": 1024, "quality": "1"}, "0.05"),
    ],
)
def test_budget_estimates_use_the_catalogs_prices(model_id, operation, params, usd):
    assert pricing.estimate(model_id, operation, params) == Decimal(usd)


def test_a_queued_midjourney_grid_counts_once_at_the_plan_rate(user, settings):
    settings.MIDJOURNEY_USD_PER_JOB = Decimal("0.033")
    params = {"width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "1", "n": 1, "seed": 1, "options": {}}
    make_job(owner=user, model_id="midjourney-v7", params=params)
    assert month_spend(user) == Decimal("0.033")
    Budget.objects.create(user=user, monthly_usd=Decimal("0.05"))
    with pytest.raises(BudgetExceeded, match=r"would cost \$0.033, but only \$0.02 is left"):
        check_budget(user, "midjourney-v7", "generate", params)


def test_a_model_removed_from_the_catalog_is_unknown():
    assert pricing.estimate("no-such-model", "generate", {"quality": "standard"}) is None


def test_the_api_lists_each_models_pricing(user, settings):
    settings.MIDJOURNEY_USD_PER_JOB = Decimal("0.04")
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="t", digest=hash_token(raw), hint=raw[:8])
    models = {m["id"]: m for m in Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/models").json()["models"]}
    gpt = models["gpt-image-2"]["pricing"]
    assert gpt["usd_per_million_tokens"] == {"text_input": "5", "image_input": "8", "image_output": "30",
                                              "text_output": "10"}  # fmt: skip
    assert gpt["per_image_usd"]["high"] == "0.211" and gpt["source"].startswith("https://")
    core = models["stable-image-core"]["pricing"]
    assert core["credits_per_image"]["erase"] == "5" and core["usd_per_credit"] == "0.01"
    assert models["midjourney-v7"]["pricing"]["usd_per_job"] == "0.04"


def test_a_job_canceled_after_its_provider_was_asked_still_counts_against_the_budget(user, priced):
    params = {"width": 1024, "height": 1024, "quality": "draft", "n": 2, "seed": 1, "options": {}}
    make_job(owner=user, params=params, status="canceled", attempts=0)  # never reached the provider: free
    assert month_spend(user) == Decimal(0)
    make_job(owner=user, params=params, status="canceled", attempts=1)  # the provider bills what it began
    assert month_spend(user) == Decimal("0.08")
