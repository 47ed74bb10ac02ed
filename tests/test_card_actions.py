"""Actions on a studio card's images: favourite, download, editor, vary, upscale, reuse; U/V on
Midjourney grids; older cards page back by keyset."""

import pytest
from django.urls import reverse

from gallery.models import Favourite
from studio.models import Job
from tests.factories import make_image, make_job, png_bytes

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def finished_image(owner, **job_fields):
    job = make_job(owner=owner, status=Job.Status.SUCCEEDED, **job_fields)
    return make_image(job)


def test_a_finished_card_offers_every_action_per_image(alice, user):
    image = finished_image(user)
    html = alice.get(reverse("studio:job", args=[image.job.pk]), **HTMX).content.decode()
    for url in (
        reverse("studio:image_favourite", args=[image.pk]),
        reverse("gallery:download", args=[image.pk]),
        reverse("studio:editor_image", args=[image.pk]),
        reverse("studio:image_quick_action", args=[image.pk]),
        f"{reverse('studio:home')}?reuse={image.pk}",
    ):
        assert url in html
    assert 'value="vary"' in html and 'value="upscale"' in html


def test_favourite_from_the_card_toggles_and_redraws_it(alice, user):
    image = finished_image(user)
    url = reverse("studio:image_favourite", args=[image.pk])
    html = alice.post(url, **HTMX).content.decode()
    assert Favourite.objects.filter(user=user, image=image).exists()
    assert f'id="job-{image.job.pk}"' in html and 'aria-pressed="true"' in html
    alice.post(url, **HTMX)
    assert not Favourite.objects.exists()


def test_vary_from_the_card_queues_a_variation_and_returns_its_card(alice, user, media_root):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    image = finished_image(user)
    default_storage.delete(image.file)
    image.file = default_storage.save(image.file, ContentFile(png_bytes(64, 64)))
    image.save()
    response = alice.post(reverse("studio:image_quick_action", args=[image.pk]), {"action": "vary"}, **HTMX)
    job = Job.objects.get(operation="variation")
    assert job.source_image == image and job.status == Job.Status.QUEUED
    assert f'id="job-{job.pk}"' in response.content.decode()
    assert 'id="live"' in response.content.decode()  # a fresh live poll watches the new card


def test_an_unknown_quick_action_is_refused_in_the_messages(alice, user):
    image = finished_image(user)
    response = alice.post(reverse("studio:image_quick_action", args=[image.pk]), {"action": "melt"}, **HTMX)
    assert response.status_code == 422 and response["HX-Retarget"] == "#messages"
    assert not Job.objects.exclude(pk=image.job.pk).exists()


def test_a_midjourney_grid_shows_as_one_grid_with_quadrants_and_u_v_buttons(alice, user):
    job = make_job(owner=user, status=Job.Status.SUCCEEDED, model_id="midjourney-v7",
                   usage={"grid": True, "task_id": "t1"})  # fmt: skip
    grid, *parts = [make_image(job, index=i) for i in range(5)]
    html = alice.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()
    assert html.count('class="mj-grid"') == 1
    assert html.count(reverse("gallery:thumbnail", args=[grid.pk])) == 1
    for part in parts:
        assert reverse("gallery:thumbnail", args=[part.pk]) not in html  # linked as quadrants, not thumbnails
        assert reverse("gallery:detail", args=[part.pk]) in html
    for action in ("U1", "U4", "V1", "V4"):
        assert f'value="{action}"' in html
    assert f'hx-post="{reverse("studio:midjourney_action", args=[grid.pk])}"' in html


def test_older_jobs_page_back_by_keyset(alice, user):
    jobs = [make_job(owner=user, prompt=f"prompt number {i}") for i in range(30)]
    first = alice.get(reverse("studio:home")).content.decode()
    assert "prompt number 29" in first and "prompt number 17" not in first
    assert f"before={jobs[18].pk}" in first
    make_job(owner=user, prompt="arrived meanwhile")  # a new job does not shift the next page
    second = alice.get(reverse("studio:jobs_older"), {"before": jobs[18].pk}, **HTMX).content.decode()
    assert "prompt number 17" in second and "prompt number 6" in second and "prompt number 5" not in second
    assert "arrived meanwhile" not in second and f"before={jobs[6].pk}" in second
    last = alice.get(reverse("studio:jobs_older"), {"before": jobs[6].pk}, **HTMX).content.decode()
    assert "prompt number 0" in last and "Older jobs" not in last


def test_older_jobs_work_without_javascript(alice, user):
    jobs = [make_job(owner=user, prompt=f"prompt number {i}") for i in range(14)]
    response = alice.get(reverse("studio:jobs_older"), {"before": jobs[2].pk})
    assert response.status_code == 302
    html = alice.get(response["Location"]).content.decode()
    assert "prompt number 1" in html and "prompt number 13" not in html
