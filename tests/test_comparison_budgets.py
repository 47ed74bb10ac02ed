"""Comparisons, sweeps and battles run each model at its default quality, whose "auto" tier has no
price of its own: it is priced (as the tier it stands for) and held against the budget before any
job is made."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from studio.models import Budget, Comparison, Job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def openai_set_up(settings):
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "k"


def budget_of(user, usd: str) -> Budget:
    return Budget.objects.create(user=user, monthly_usd=Decimal(usd))


def refusal(response) -> str:
    assert response.status_code == 422
    return " ".join(re.findall(r'class="error"[^>]*>(.*?)<', response.content.decode(), re.S))


@pytest.mark.parametrize("models", [["gpt-image-1.5", "offline"], ["gpt-image-1.5", "gpt-image-1"]])
def test_a_comparison_at_the_default_quality_is_held_to_the_budget(alice, user, models):
    budget_of(user, "0.05")
    data = {"prompt": "a lighthouse", "aspect_ratio": "1:1", "quality": "default", "models": models}
    message = refusal(alice.post(reverse("studio:compare_create"), data, **HTMX))
    assert "This job would cost $0.1" in message and "budget" in message
    assert not Job.objects.exists() and not Comparison.objects.exists()


def test_a_sweep_over_quality_from_auto_is_held_to_the_budget(alice, user):
    budget_of(user, "0.05")
    data = {"prompt": "a lighthouse", "aspect_ratio": "1:1", "model": "gpt-image-1.5", "setting": "quality",
            "values": "auto, low"}  # fmt: skip
    message = refusal(alice.post(reverse("studio:compare_sweep"), data, **HTMX))
    assert "This job would cost $0.133" in message and "budget" in message
    assert not Job.objects.exists() and not Comparison.objects.exists()


def test_a_battle_between_paid_models_is_held_to_the_budget(alice, user):
    """The pair is drawn at random among the paid models set up: none is free at its default."""
    budget_of(user, "0.001")
    message = refusal(alice.post(reverse("studio:battle"), {"prompt": "a lighthouse", "aspect_ratio": "1:1"}, **HTMX))
    assert "This job would cost $" in message and "budget" in message
    assert not Job.objects.exists() and not Comparison.objects.exists()
