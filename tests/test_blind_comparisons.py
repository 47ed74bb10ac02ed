"""Blind comparisons: nothing in the page, its fragments or its image files names a model until
this person has voted; then everything shows. Votes swap in with htmx; the query count is fixed."""

import re

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from studio import catalog, comparisons, imaging
from studio.metadata import reader
from studio.models import Comparison, Job, Vote
from tests.factories import make_image, make_job, make_user

pytestmark = pytest.mark.django_db
MODELS = ["offline", "offline-watercolor", "offline-mosaic"]


def _tells(model_ids):
    """Every string that would say which model made a column."""
    tells = set()
    for model_id in model_ids:
        model = catalog.MODELS[model_id]
        tells |= {model_id, model.label, model.provider}
    return tells - {"offline"} | {"Offline"}  # "offline" alone is also in the page's own words


def _blind(alice, run_jobs_inline, **fields):
    data = {"prompt": "a fox in the snow", "aspect_ratio": "21:9", "quality": "lowest", "models": MODELS, **fields}
    with run_jobs_inline(execute=True):
        alice.post(reverse("studio:compare_create"), data)
    return Comparison.objects.get()


def test_a_blind_comparison_names_no_model_anywhere_until_you_vote(alice, user, run_jobs_inline):
    comparison = _blind(alice, run_jobs_inline)
    assert comparison.blind and sorted(comparison.jobs.values_list("column", flat=True)) == [0, 1, 2]
    pages = [alice.get(reverse("studio:comparison", args=[comparison.pk])).content.decode()]
    pages += [
        alice.get(reverse("studio:comparison_column", args=[comparison.pk, n]), {"show": "grid"}).content.decode()
        for n in range(3)
    ]
    pages.append(alice.get(reverse("studio:compare")).content.decode().split("Recent comparisons")[1])
    for html in pages:
        found = [t for t in _tells(MODELS) if t.lower() in html.lower()]
        assert not found, found
    page = pages[0]
    assert [m.group(1) for m in re.finditer(r'class="column-name">(\w)<', page)] == ["A", "B", "C"]
    assert "nearest is" not in page and "1536×640" not in page and "<dt>Latency" not in page and "<dt>Cost" not in page
    assert "best pick" not in page and "Add models" not in page
    assert not re.search(r"/gallery/\d", page)  # no image ids to look up: images come from the comparison's own URLs
    image = alice.get(reverse("studio:comparison_image", args=[comparison.pk, 0]))
    data = b"".join(image.streaming_content) if image.streaming else image.content
    assert image["Content-Type"] == "image/png" and b"iTXt" not in data and b"offline" not in data
    assert reader.read(data) is None


def test_a_tie_vote_reveals_everything_in_one_htmx_swap(alice, user, run_jobs_inline):
    comparison = _blind(alice, run_jobs_inline)
    response = alice.post(
        reverse("studio:comparison_vote", args=[comparison.pk]), {"vote": "tie"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.strip().startswith('<div id="comparison-body">')
    assert "Vote recorded: tie. Offline-renderer games count on the practice board only." in html
    assert all(catalog.MODELS[m].label in html for m in MODELS) and "Latency" in html
    vote = Vote.objects.get()
    assert vote.outcome == "tie" and vote.blind and vote.winner is None
    image = alice.get(reverse("studio:comparison_image", args=[comparison.pk, 0]))
    assert reader.read(image.content).model in MODELS  # revealed: the file is whole again
    other = make_user(username="carol")
    alice.force_login(other)
    assert "Offline watercolour" not in alice.get(reverse("studio:comparison", args=[comparison.pk])).content.decode()


def test_best_and_all_bad_votes_and_keys(alice, user, run_jobs_inline):
    comparison = _blind(alice, run_jobs_inline)
    page = alice.get(reverse("studio:comparison", args=[comparison.pk])).content.decode()
    assert [int(k) for k in re.findall(r'data-pick-key="(\d)"', page)] == [1, 2, 3]
    url = reverse("studio:comparison_vote", args=[comparison.pk])
    alice.post(url, {"vote": "best:2"}, HTTP_HX_REQUEST="true")
    winner = comparison.jobs.get(column=2)
    assert Vote.objects.get().winner == winner
    html = alice.post(url, {"vote": "all_bad"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Your vote: <strong>all bad</strong>" in html and not Vote.objects.get().blind
    response = alice.post(url, {"vote": "best:9"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "Pick one of this comparison" in response.content.decode()
    html = alice.post(url, {"vote": "ranking:1,2,0"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Your vote: <strong>a ranking with B" in html and Vote.objects.get().ranking == [1, 2, 0]
    for bad in ("ranking:", "ranking:1,1,0", "ranking:1,x,0", "ranking:1,2", "ranking:,,"):
        response = alice.post(url, {"vote": bad}, HTTP_HX_REQUEST="true")
        assert response.status_code == 422 and "Rank every finished column" in response.content.decode()


def test_labelled_comparisons_and_sweeps_show_names_from_the_start(alice, user, run_jobs_inline):
    comparison = _blind(alice, run_jobs_inline, labelled="on")
    page = alice.get(reverse("studio:comparison", args=[comparison.pk])).content.decode()
    assert not comparison.blind and "Offline mosaic is best" in page
    assert [j.model_id for j in comparison.jobs.order_by("column")] == MODELS  # in the order asked


def test_models_can_be_added_only_after_the_vote(alice, user, run_jobs_inline):
    comparison = _blind(alice, run_jobs_inline, models=MODELS[:2])
    rerun = reverse("studio:comparison_rerun", args=[comparison.pk])
    response = alice.post(rerun, {"add_models": ["offline-mosaic"]}, follow=True)
    assert "Vote first" in response.content.decode() and Comparison.objects.count() == 1
    comparisons.vote_cast(comparison=comparison, user=user, outcome="tie")
    page = alice.get(reverse("studio:comparison", args=[comparison.pk])).content.decode()
    assert "Add models" in page and "data-filter-checks" in page
    with run_jobs_inline(execute=True):
        alice.post(rerun, {"add_models": ["offline-mosaic"]})
    again = Comparison.objects.exclude(pk=comparison.pk).get()
    assert again.blind and sorted(again.jobs.values_list("model_id", flat=True)) == sorted(MODELS)


def test_the_page_makes_the_same_number_of_queries_blind_revealed_and_labelled(alice, user, django_assert_num_queries):
    def comparison_of(columns, *, blind):
        comparison = Comparison.objects.create(owner=user, prompt="p", blind=blind, settings={"models": MODELS})
        for column in range(columns):
            make_image(make_job(user, status="succeeded", comparison=comparison, column=column))
        return comparison

    small, large = comparison_of(2, blind=True), comparison_of(6, blind=True)
    labelled = comparison_of(3, blind=False)
    comparisons.vote_cast(comparison=large, user=user, outcome="best", pick=4)
    for comparison in (small, large, labelled):
        with django_assert_num_queries(7):  # session, user, comparison, my vote, jobs, their images, tally
            assert alice.get(reverse("studio:comparison", args=[comparison.pk])).status_code == 200


def _grid_column(owner, comparison):
    job = make_job(owner, model_id="midjourney-v7", status="succeeded", comparison=comparison, usage={"grid": True})
    for index in range(5):
        make_image(job, index=index, width=64 * (index + 1))
    return job


def test_a_midjourney_column_shows_one_quadrant_and_switches_after_the_vote(alice, user):
    comparison = Comparison.objects.create(owner=user, prompt="p", blind=True, settings={"models": ["midjourney-v7"]})
    job = _grid_column(user, comparison)
    make_image(make_job(user, status="succeeded", comparison=comparison, column=1))
    images = list(job.images.order_by("index"))
    column = reverse("studio:comparison_column", args=[comparison.pk, 0])
    blind = alice.get(column, {"show": "grid"}).content.decode()
    assert "U1" not in blind and "Grid" not in blind  # no switcher: it would tell Midjourney apart
    blind_image = alice.get(reverse("studio:comparison_image", args=[comparison.pk, 0])).content
    with default_storage.open(images[1].file) as f:
        assert imaging.without_png_text(f.read()) == blind_image  # the first quadrant, not the grid
    comparisons.vote_cast(comparison=comparison, user=user, outcome="tie")
    html = alice.get(column).content.decode()
    assert f"/gallery/{images[1].pk}/image/" in html and "U4" in html and "Grid" in html
    switched = alice.get(column, {"show": "3"}).content.decode()
    assert f"/gallery/{images[3].pk}/image/" in switched and "hx-swap-oob" not in switched
    assert f"/gallery/{images[0].pk}/image/" in alice.get(column, {"show": "grid"}).content.decode()
    assert f"/gallery/{images[1].pk}/image/" in alice.get(column, {"show": "9"}).content.decode()


def test_failed_columns_keep_their_reason_until_the_vote(alice, user):
    comparison = Comparison.objects.create(owner=user, prompt="p", blind=True, settings={"models": MODELS})
    Job.objects.create(
        owner=user, model_id="dall-e-3", prompt="p", comparison=comparison, column=0, status="failed",
        error_message="OpenAI refused: DALL·E 3 does not take 21:9",
    )  # fmt: skip
    make_image(make_job(user, status="succeeded", comparison=comparison, column=1))
    html = alice.get(reverse("studio:comparison", args=[comparison.pk])).content.decode()
    assert "OpenAI" not in html and "reason shows after your vote" in html


def test_a_blind_comparisons_columns_stay_off_the_gallery_studio_and_api_until_you_vote(alice, user, run_jobs_inline):
    """Outside the comparison page every image and job names its model: the columns join the
    gallery, the studio's cards, their pages and the API for each person once they have voted."""
    comparison = _blind(alice, run_jobs_inline)
    job = comparison.jobs.order_by("column").first()
    image = job.images.get()
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="test", digest=hash_token(raw), hint=raw[:8])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def shown() -> dict[str, bool]:
        grid = alice.get(reverse("gallery:grid")).content.decode()
        studio = alice.get(reverse("studio:home")).content.decode()
        return {
            "gallery": f'href="/gallery/{image.pk}/"' in grid,
            "studio": f'id="job-{job.pk}"' in studio,
            "image page": alice.get(reverse("gallery:detail", args=[image.pk])).status_code == 200,
            "job page": alice.get(reverse("studio:job", args=[job.pk])).status_code == 200,
            "api images": image.pk in [i["id"] for i in api.get("/api/v1/images").json()["images"]],
            "api job": api.get(f"/api/v1/jobs/{job.pk}").status_code == 200,
        }

    assert not any(shown().values()), shown()
    alice.post(reverse("studio:comparison_vote", args=[comparison.pk]), {"vote": "tie"})
    assert all(shown().values()), shown()


def test_the_leaderboard_link_opens_the_board_the_vote_counts_on(alice, user, run_jobs_inline):
    comparison = _blind(alice, run_jobs_inline)  # offline models only: the practice board
    html = alice.get(reverse("studio:comparison", args=[comparison.pk])).content.decode()
    assert f'href="{reverse("studio:leaderboard")}?votes=blind&amp;models=practice"' in html
