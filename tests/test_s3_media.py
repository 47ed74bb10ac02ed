"""STORAGE=s3: jobs write to a bucket on a local S3 server (moto), and every file comes back
through storage: images, thumbnails, inputs, masks, the zip, the CLI's printed URL."""

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.urls import reverse
from PIL import Image as PILImage

from gallery.models import Image
from studio import media, specs, tasks
from studio.jobs import job_create
from studio.models import Job
from tests.conftest import s3_env
from tests.factories import make_image, make_job, make_user
from tests.test_editor import mask_file, submit

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def keys(bucket) -> set[str]:
    listing = bucket.client.list_objects_v2(Bucket=bucket.name)
    return {obj["Key"] for obj in listing.get("Contents", ())}


def body(bucket, key: str) -> bytes:
    return bucket.client.get_object(Bucket=bucket.name, Key=key)["Body"].read()


def test_a_job_on_s3_is_served_as_image_thumbnail_download_and_zip(s3_media, alice, user, media_root):
    job = job_create(owner=user, request=specs.build(model="offline", prompt="a lighthouse", n=2), enqueue=False)
    assert tasks.run_job(job.pk) == "succeeded"
    first, second = Job.objects.get(pk=job.pk).images.order_by("index")
    assert {first.file, first.thumbnail, second.file, second.thumbnail} == keys(s3_media)
    assert not media_root.exists()  # nothing went to the local disk

    original = alice.get(reverse("gallery:file", args=[first.pk]))
    assert original.status_code == 200 and original["Content-Type"] == "image/png"
    assert b"".join(original.streaming_content) == body(s3_media, first.file)
    thumbnail = alice.get(reverse("gallery:thumbnail", args=[first.pk]))
    assert thumbnail["Content-Type"] == "image/webp"
    assert b"".join(thumbnail.streaming_content) == body(s3_media, first.thumbnail)
    download = alice.get(reverse("gallery:download", args=[second.pk]))
    assert download["Content-Disposition"].startswith("attachment;")
    assert b"".join(download.streaming_content) == body(s3_media, second.file)

    archive = alice.post(reverse("gallery:bulk"), {"action": "zip", "ids": [first.pk, second.pk]})
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as zipped:
        assert sorted(zipped.read(name) for name in zipped.namelist()) == sorted(
            [body(s3_media, first.file), body(s3_media, second.file)]
        )


def test_an_edit_on_s3_keeps_its_input_and_mask_in_the_bucket(s3_media, alice, user, run_jobs_inline):
    source = make_image(make_job(owner=user, status="succeeded"))
    with run_jobs_inline(execute=True):
        assert submit(alice, operation="edit", source=source.pk, mask=mask_file()).status_code == 200
    job = Job.objects.get(operation="edit")
    assert job.status == "succeeded", job.error_message
    assert {job.source_file, job.mask_file, job.images.get().file} <= keys(s3_media)
    assert job.source_file.startswith("inputs/") and job.mask_file.startswith("masks/")
    mask = alice.get(reverse("gallery:mask", args=[job.images.get().pk]))
    assert b"".join(mask.streaming_content) == body(s3_media, job.mask_file)


def test_a_file_gone_from_the_bucket_is_a_404(s3_media, alice, user):
    image = make_image(make_job(owner=user, status="succeeded"))
    s3_media.client.delete_object(Bucket=s3_media.name, Key=image.file)
    assert alice.get(reverse("gallery:file", args=[image.pk])).status_code == 404


def test_the_cli_prints_a_signed_url_that_serves_the_image(s3_media):
    make_user(username="admin", is_superuser=True)
    out = io.StringIO()
    call_command("generate", "--prompt", "a mountain lake", "--quality", "draft", "--inline", stdout=out)
    url = out.getvalue().strip()
    image = Image.objects.get()
    assert url.startswith(f"{s3_media.endpoint}/{s3_media.name}/{image.file}?") and "Signature=" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == body(s3_media, image.file)
    assert PILImage.open(io.BytesIO(fetched.content)).format == "PNG"


def without_the_bucket(settings) -> None:
    """Point media storage at a bucket that does not exist."""
    default = settings.STORAGES["default"]
    options = {**default["OPTIONS"], "bucket_name": "no-such-bucket"}
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}


def test_a_missing_bucket_fails_the_job_as_storage_not_writable(s3_media, user, settings):
    without_the_bucket(settings)
    job = make_job(owner=user)
    assert tasks.run_job(job.pk) == "failed: storage"
    job.refresh_from_db()
    assert job.error_kind == "storage" and "storage not writable (S3 answered NoSuchBucket)" in job.error_message
    assert not Image.objects.exists()


def test_healthz_reports_the_bucket(s3_media, client, settings):
    healthy = client.get("/healthz")
    assert healthy.status_code == 200 and healthy.json()["checks"]["storage"] == "ok"
    without_the_bucket(settings)
    failing = client.get("/healthz")
    assert failing.status_code == 503
    assert failing.json()["checks"]["storage"] == "storage not writable (S3 answered NoSuchBucket)"
    assert "atelier-test-secret" not in failing.content.decode() and "atelier-test-key" not in failing.content.decode()
    assert media.probe() is not None


def run_manage(*args: str, env: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_URL", "SECRET_KEY"))}
    environment.update(ATELIER_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_storage_s3_settings_are_those_the_tests_use(s3_media, settings, tmp_path):
    code = "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps(s.STORAGES))"
    result = run_manage("-c", code, env=s3_env(s3_media), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["default"] == settings.STORAGES["default"]


def test_start_up_refuses_a_bucket_it_cannot_write(s3_bucket, tmp_path):
    env = {**s3_env(s3_bucket), "AWS_STORAGE_BUCKET_NAME": "no-such-bucket"}
    result = run_manage("manage.py", "check", env=env, data_dir=tmp_path)
    assert result.returncode != 0
    assert "Media storage failed a test write: storage not writable (S3 answered NoSuchBucket)." in result.stderr
    # With the bucket there, the same check passes: tests/test_deployment.py.
