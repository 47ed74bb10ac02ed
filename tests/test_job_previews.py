"""Previews: the provider's look at an unfinished image, kept while the job runs, shown on its card,
and gone when it ends."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from studio import jobs, tasks
from studio.models import Job
from tests.factories import make_job, png_bytes

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def previews_on_disk(media_root):
    return sorted((media_root / "previews").rglob("*.webp")) if (media_root / "previews").exists() else []


def test_a_running_jobs_preview_replaces_the_last_one(user, media_root):
    job = make_job(owner=user, status=Job.Status.RUNNING)
    jobs.preview_store(job.pk, png_bytes(640, 360))
    first = Job.objects.get(pk=job.pk).preview
    jobs.preview_store(job.pk, png_bytes(640, 360, (0, 0, 0)))
    second = Job.objects.get(pk=job.pk).preview
    assert first != second and not default_storage.exists(first)
    assert previews_on_disk(media_root) == [media_root / second]


def test_a_finished_job_keeps_no_preview(user, media_root):
    job = make_job(owner=user, status=Job.Status.SUCCEEDED)
    jobs.preview_store(job.pk, png_bytes())
    assert Job.objects.get(pk=job.pk).preview is None and previews_on_disk(media_root) == []


def test_an_unreadable_preview_is_skipped(user, media_root):
    job = make_job(owner=user, status=Job.Status.RUNNING)
    jobs.preview_store(job.pk, b"<html>not an image</html>")
    assert Job.objects.get(pk=job.pk).preview is None and previews_on_disk(media_root) == []


def test_the_card_shows_the_preview_to_its_owner_only(alice, user, client_for, other_user):
    job = make_job(owner=user, status=Job.Status.RUNNING)
    jobs.preview_store(job.pk, png_bytes(640, 360))
    html = alice.get(reverse("studio:job", args=[job.pk]), **HTMX).content.decode()
    assert f'src="{reverse("studio:job_preview", args=[job.pk])}?v=' in html
    response = alice.get(reverse("studio:job_preview", args=[job.pk]))
    assert response.status_code == 200 and b"WEBP" in b"".join(response.streaming_content)
    assert client_for(other_user).get(reverse("studio:job_preview", args=[job.pk])).status_code == 404


def test_a_midjourney_job_shows_previews_while_it_runs_and_none_after(midjourney_proxy, user, media_root, monkeypatch):
    from studio.providers import midjourney

    monkeypatch.setattr(midjourney, "POLL_SECONDS", 0.05)
    midjourney_proxy.duration = 1.5
    seen = []
    store = jobs.preview_store
    monkeypatch.setattr(jobs, "preview_store", lambda job_id, data: (store(job_id, data), seen.append(
        Job.objects.get(pk=job_id).preview)))  # fmt: skip
    params = {"version": 2, "width": 1456, "height": 816, "aspect_ratio": "16:9", "quality": "1", "n": 1,
              "seed": 1234, "options": {}}  # fmt: skip
    job = make_job(owner=user, model_id="midjourney-v7", params=params)
    assert tasks.run_job(job.pk) == "succeeded"
    assert seen and all(seen)  # stored while it ran
    job.refresh_from_db()
    assert job.preview is None and previews_on_disk(media_root) == []


def test_an_opted_in_gpt_image_job_shows_partial_images_while_it_runs(openai_emulator, user, settings, monkeypatch):
    settings.OPENAI_PARTIAL_IMAGES = 2
    seen = []
    store = jobs.preview_store
    monkeypatch.setattr(jobs, "preview_store", lambda job_id, data: (store(job_id, data), seen.append(
        Job.objects.get(pk=job_id).preview)))  # fmt: skip
    params = {"version": 2, "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "low", "n": 1,
              "seed": 1, "options": {}}  # fmt: skip
    job = make_job(owner=user, model_id="gpt-image-1.5", params=params)
    assert tasks.run_job(job.pk) == "succeeded"
    assert len(seen) == 2 and all(seen) and seen[0] != seen[1]
    job.refresh_from_db()
    assert job.preview is None and job.images.count() == 1
