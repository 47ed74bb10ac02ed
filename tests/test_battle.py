"""Battles: two enabled models drawn at random, new pairs first, run blind on your prompt or the team's."""

import random

import pytest
from django.urls import reverse

from studio import battles, catalog
from studio.models import Comparison

pytestmark = pytest.mark.django_db


def test_pairs_with_few_games_are_drawn_far_more_often():
    models = [catalog.MODELS[m] for m in ("offline", "offline-watercolor", "offline-mosaic")]
    played = {frozenset(("offline", "offline-watercolor")): 999}
    rng = random.Random(1)
    draws = [frozenset(battles.pick_pair(models, played, rng)) for _ in range(600)]
    assert draws.count(frozenset(("offline", "offline-watercolor"))) <= 3  # weight 1/1000 against 1
    assert draws.count(frozenset(("offline", "offline-mosaic"))) > 250
    assert draws.count(frozenset(("offline-watercolor", "offline-mosaic"))) > 250


def test_a_battle_runs_two_models_blind_on_your_prompt(alice, user, run_jobs_inline):
    with run_jobs_inline(execute=True):
        response = alice.post(reverse("studio:battle"), {"prompt": "a red kite over hills", "aspect_ratio": "3:2"})
    comparison = Comparison.objects.get()
    assert response["Location"] == reverse("studio:comparison", args=[comparison.pk])
    models = list(comparison.jobs.values_list("model_id", flat=True))
    assert comparison.blind and len(set(models)) == 2 and all(m.startswith("offline") for m in models)
    assert comparison.prompt == "a red kite over hills" and comparison.settings["aspect_ratio"] == "3:2"
    page = alice.get(reverse("studio:battle")).content.decode()
    assert reverse("studio:battle") + "?prompt=a%20red%20kite%20over%20hills" in page  # the team's prompts
    assert (
        "a red kite over hills</textarea>"
        in alice.get(reverse("studio:battle"), {"prompt": "a red kite over hills"}).content.decode()
    )


def test_a_battle_without_a_prompt_is_refused(alice):
    response = alice.post(reverse("studio:battle"), {"prompt": "", "aspect_ratio": "1:1"})
    assert response.status_code == 422 and "Write a prompt" in response.content.decode()
    assert not Comparison.objects.exists()


def test_battles_draw_only_provider_models_once_two_are_set_up(settings):
    assert {m.provider for m in battles.candidates()} == {"offline"}
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "openai": {**settings.PROVIDER_SETTINGS["openai"], "api_key": "sk-test"},
    }
    drawn = battles.candidates()
    assert len(drawn) >= 2 and {m.provider for m in drawn} == {"openai"}
