"""Comparisons and sweeps: fan-out, fitting each model, votes, re-runs and the leaderboard."""

import pytest
from django.urls import reverse

from studio import catalog, comparisons
from studio.models import Comparison, Job, Vote

pytestmark = pytest.mark.django_db
OFFLINE3 = ["offline", "offline-watercolor", "offline-mosaic"]


def compare(client, **fields):
    data = {"prompt": "a fox in the snow", "aspect_ratio": "16:9", "quality": "lowest", "models": OFFLINE3}
    data.update(fields)
    return client.post(reverse("studio:compare_create"), data)


def test_a_comparison_runs_each_model_with_one_seed(alice, user, run_jobs_inline):
    with run_jobs_inline(execute=True):
        response = compare(alice, seed="42", category="animals")
    comparison = Comparison.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("studio:comparison", args=[comparison.pk])
    columns = list(comparison.jobs.order_by("column"))
    assert [j.model_id for j in columns] == OFFLINE3
    assert all(j.status == "succeeded" and j.params["seed"] == 42 and j.params["quality"] == "draft" for j in columns)
    html = alice.get(response["Location"]).content.decode()
    assert html.count('class="column status-succeeded') == 3 and "1344×768" in html and "Pick as best" in html


def test_each_model_is_fitted_and_the_page_says_so():
    dalle = comparisons.model_column(
        catalog.MODELS["dall-e-3"], prompt="p", negative="blurry", aspect="21:9", tier="highest", seed=1
    )
    assert dalle.request.size.value == "1792x1024" and dalle.request.quality == "hd"
    assert any("nearest is 16:9" in n for n in dalle.notes)
    assert "Ignores the negative prompt." in dalle.notes and any("no seed" in n for n in dalle.notes)
    gpt = comparisons.model_column(
        catalog.MODELS["gpt-image-1.5"], prompt="p", negative="", aspect="1:1", tier="lowest", seed=1
    )
    assert gpt.request.quality == "low" and not any("nearest" in n for n in gpt.notes)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"models": ["offline"]}, "Pick 2 to 6 models; you picked 1"),
        ({"models": ["offline", "dall-e-3"]}, "Not available here: DALL·E 3"),
        ({"prompt": ""}, "Write a prompt"),
    ],
)
def test_bad_comparisons_are_refused_with_the_form_kept(alice, fields, message):
    response = compare(alice, **fields)
    html = response.content.decode()
    assert response.status_code == 422 and message in html
    assert not Comparison.objects.exists() and not Job.objects.exists()


def test_unfinished_columns_poll_and_the_last_one_reloads_the_page(alice, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        compare(alice, models=OFFLINE3[:2])
    comparison = Comparison.objects.get()
    first, second = comparison.jobs.order_by("column")
    column_url = reverse("studio:comparison_column", args=[comparison.pk, first.pk])
    assert 'hx-trigger="every 1s"' in alice.get(column_url).content.decode()
    Job.objects.filter(pk=first.pk).update(status="succeeded")
    assert "HX-Refresh" not in alice.get(column_url)  # the other column is still queued
    Job.objects.filter(pk=second.pk).update(status="failed")
    assert alice.get(column_url)["HX-Refresh"] == "true"


def test_votes_wait_for_every_column_then_count_once_per_person(alice, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        compare(alice, models=OFFLINE3[:2])
    comparison = Comparison.objects.get()
    first, second = comparison.jobs.order_by("column")
    url = reverse("studio:comparison_vote", args=[comparison.pk])
    response = alice.post(url, {"winner": first.pk}, follow=True)
    assert "Wait until every column has finished" in response.content.decode() and not Vote.objects.exists()
    comparison.jobs.update(status="succeeded")
    alice.post(url, {"winner": first.pk})
    alice.post(url, {"winner": second.pk})  # changing your mind replaces your vote
    assert Vote.objects.get().winner == second
    other = Job.objects.create(owner=user, model_id="offline", prompt="x", status="succeeded")
    response = alice.post(url, {"winner": other.pk}, follow=True)
    assert "Vote for one of this comparison&#x27;s finished columns" in response.content.decode()


def test_bradley_terry_ranks_the_stronger_model_higher():
    ratings = comparisons.bradley_terry([("a", "b")] * 6 + [("b", "a")] * 2 + [("b", "c")] * 5)
    assert ratings["a"] > ratings["b"] > ratings["c"]
    assert abs(sum(ratings.values()) / 3 - 1000) < 60
    unbeaten = comparisons.bradley_terry([("x", "y")] * 3)
    assert all(abs(r) < 10_000 for r in unbeaten.values())  # finite even with no losses


def _voted_comparison(owner, winner_model, models, category=""):
    comparison = Comparison.objects.create(owner=owner, prompt="p", category=category, settings={"models": models})
    jobs = {
        m: Job.objects.create(owner=owner, model_id=m, prompt="p", status="succeeded", comparison=comparison)
        for m in models
    }
    Vote.objects.create(comparison=comparison, user=owner, winner=jobs[winner_model])


def test_leaderboard_counts_votes_filters_by_category_and_skips_sweeps(alice, user):
    for _ in range(3):
        _voted_comparison(user, "offline-mosaic", OFFLINE3, category="animals")
    _voted_comparison(user, "offline", OFFLINE3[:2], category="portraits")
    sweep = Comparison.objects.create(owner=user, prompt="p", kind="sweep", settings={})
    sweep_job = Job.objects.create(owner=user, model_id="offline", prompt="p", status="succeeded", comparison=sweep)
    Vote.objects.create(comparison=sweep, user=user, winner=sweep_job)
    standings = comparisons.leaderboard()
    assert standings[0].model_id == "offline-mosaic" and standings[0].wins == 6
    assert standings[0].low <= standings[0].rating <= standings[0].high
    assert comparisons.leaderboard(category="portraits")[0].model_id == "offline"
    html = alice.get(reverse("studio:leaderboard"), {"category": "animals"}).content.decode()
    assert "Offline mosaic" in html and "needs 3+ votes" not in html


def test_rerun_uses_a_new_seed_and_can_add_models(alice, user, run_jobs_inline):
    with run_jobs_inline(execute=True):
        compare(alice, models=OFFLINE3[:2], seed="5")
        original = Comparison.objects.get()
        response = alice.post(
            reverse("studio:comparison_rerun", args=[original.pk]), {"add_models": ["offline-mosaic"]}
        )
    again = Comparison.objects.exclude(pk=original.pk).get()
    assert response["Location"] == reverse("studio:comparison", args=[again.pk])
    assert again.rerun_of == original and again.settings["seed"] != 5
    assert [j.model_id for j in again.jobs.order_by("column")] == OFFLINE3


def test_a_sweep_varies_one_setting_of_one_model(alice, run_jobs_inline):
    data = {
        "prompt": "a tower",
        "aspect_ratio": "1:1",
        "model": "offline",
        "setting": "quality",
        "values": "draft, high",
    }
    with run_jobs_inline(execute=True):
        response = alice.post(reverse("studio:compare_sweep"), data)
    comparison = Comparison.objects.get()
    assert comparison.kind == "sweep" and response.status_code == 302
    assert [j.params["quality"] for j in comparison.jobs.order_by("column")] == ["draft", "high"]
    assert "quality = high" in alice.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"values": "draft"}, "Give 2 to 6 values; you gave 1"),
        ({"values": "draft, ultra"}, "no quality “ultra”"),
        ({"setting": "wobble"}, "has no setting “wobble”"),
    ],
)
def test_bad_sweeps_are_explained(alice, fields, message):
    data = {
        "prompt": "p",
        "aspect_ratio": "1:1",
        "model": "offline",
        "setting": "quality",
        "values": "draft, high",
        **fields,
    }
    response = alice.post(reverse("studio:compare_sweep"), data)
    assert response.status_code == 422 and message in response.content.decode()
    assert not Comparison.objects.exists()


def test_sweep_values_are_checked_against_option_ranges():
    with pytest.raises(ValueError, match="from 0 to 35"):
        comparisons.parse_sweep_value(catalog.MODELS["sdxl-1.0"], "cfg_scale", "50")
    assert comparisons.parse_sweep_value(catalog.MODELS["sdxl-1.0"], "cfg_scale", "4.5") == 4.5


def test_comparisons_are_listed_as_groups(alice, user, run_jobs_inline):
    with run_jobs_inline(execute=True):
        compare(alice, models=OFFLINE3[:2], prompt="a blue whale")
    html = alice.get(reverse("studio:compare")).content.decode()
    assert "a blue whale" in html and html.count("/thumbnail/") == 2
