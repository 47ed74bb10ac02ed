"""Comparisons and sweeps: fan-out, fitting each model, votes, re-runs and the leaderboard."""

import pytest
from django.urls import reverse

from studio import catalog, comparisons
from studio.models import Comparison, Job, Vote

pytestmark = pytest.mark.django_db
OFFLINE3 = ["offline", "offline-watercolor", "offline-mosaic"]


def compare(client, **fields):
    """Post the compare form: a labelled comparison unless `labelled=""` asks for the default, blind."""
    data = {"prompt": "a fox in the snow", "aspect_ratio": "16:9", "quality": "lowest", "models": OFFLINE3}
    data["labelled"] = "on"
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
    assert html.count('class="column status-succeeded') == 3 and "1344×768" in html
    assert "Offline mosaic is best" in html and 'value="tie"' in html and 'value="all_bad"' in html


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


def test_a_seed_past_a_models_largest_is_lowered_and_the_column_says_so():
    core = comparisons.model_column(
        catalog.MODELS["stable-image-core"], prompt="p", negative="", aspect="1:1", tier="default", seed=4_294_967_295
    )
    assert core.request.seed == 4_294_967_294
    assert "Seed 4,294,967,295 is past Stable Image Core's largest; it used 4,294,967,294." in core.notes
    sdxl = comparisons.model_column(
        catalog.MODELS["sdxl-1.0"], prompt="p", negative="", aspect="1:1", tier="default", seed=4_294_967_295
    )
    assert sdxl.request.seed == 4_294_967_295 and not any("Seed" in n for n in sdxl.notes)


def test_a_random_seed_is_one_every_compared_model_takes(monkeypatch):
    drawn = []
    monkeypatch.setattr(comparisons.secrets, "randbelow", lambda bound: drawn.append(bound) or bound - 1)
    assert comparisons._seed(None, ["sdxl-1.0", "stable-image-core", "dall-e-3"]) == 4_294_967_294
    assert comparisons._seed(None, ["offline", "sdxl-1.0"]) == catalog.SEED_MAX
    assert comparisons._seed(7, ["stable-image-core"]) == 7 and drawn == [4_294_967_295, catalog.SEED_MAX + 1]


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


def test_unfinished_columns_poll_and_the_last_one_opens_voting_without_a_reload(
    alice, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        compare(alice, models=OFFLINE3[:2])
    comparison = Comparison.objects.get()
    first, second = comparison.jobs.order_by("column")
    column_url = reverse("studio:comparison_column", args=[comparison.pk, first.column])
    assert 'hx-trigger="every 1s"' in alice.get(column_url).content.decode()
    Job.objects.filter(pk=first.pk).update(status="succeeded")
    html = alice.get(column_url).content.decode()
    assert "every 1s" not in html and "hx-swap-oob" not in html  # the other column is still queued
    Job.objects.filter(pk=second.pk).update(status="failed")
    response = alice.get(column_url)
    html = response.content.decode()
    assert "HX-Refresh" not in response and 'id="vote-panel"' in html and 'hx-swap-oob="true"' in html
    assert 'value="best:0"' in html and 'value="best:1"' not in html  # the failed column takes no vote


def test_votes_wait_for_every_column_then_count_once_per_person(alice, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        compare(alice, models=OFFLINE3[:2])
    comparison = Comparison.objects.get()
    second = comparison.jobs.get(column=1)
    url = reverse("studio:comparison_vote", args=[comparison.pk])
    response = alice.post(url, {"vote": "best:0"}, follow=True)
    assert "Wait until every column has finished" in response.content.decode() and not Vote.objects.exists()
    comparison.jobs.update(status="succeeded")
    alice.post(url, {"vote": "best:0"})
    alice.post(url, {"vote": "best:1"})  # changing your mind replaces your vote
    assert Vote.objects.get().winner == second
    for bad in ("best:7", "best:", "best:x", "maybe"):
        response = alice.post(url, {"vote": bad}, follow=True)
        assert response.status_code == 200 and Vote.objects.get().winner == second
    assert (
        "Pick one of this comparison&#x27;s finished columns"
        in alice.post(url, {"vote": "best:7"}, follow=True).content.decode()
    )


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
        compare(alice, models=OFFLINE3[1:], prompt="a red kite", labelled="")
    recent = alice.get(reverse("studio:compare")).content.decode().split("Recent comparisons")[1]
    assert "a blue whale" in recent and "a red kite" in recent
    assert recent.count("/thumbnail/") == 2  # the blind one shows no thumbnails (nor names) before a vote
    assert "Offline mosaic" not in recent
