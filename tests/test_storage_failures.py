"""A full or read-only media disk: jobs fail saying so (not "internal error"), no partial file is
left, a paid result is not bought again, start-up refuses, and /healthz answers 503."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image as PILImage

from accounts.models import ApiToken, hash_token
from gallery.models import Image
from studio import imaging, jobs, specs, tasks
from studio.models import Job
from tests.factories import make_job, png_bytes
from tests.test_api import b64
from tests.test_editor import mask_file, submit
from tests.test_provider_openai import JOB_PARAMS

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
TMPFS_BYTES = 256 * 1024


def mount_tmpfs(path: Path, options: str) -> bool:
    """Mount a small tmpfs at `path`; False where this process may not (not root, or no right to)."""
    if os.geteuid() != 0:
        return False
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)]
    return subprocess.run(command, capture_output=True).returncode == 0


def media_on(settings, tmp_path, *, options: str, stand_in: str):
    """Media on a tmpfs mounted with `options` when possible, else on a disk `stand_in` fails."""
    root = tmp_path / "media-disk"
    root.mkdir()
    settings.MEDIA_ROOT = root
    mounted = mount_tmpfs(root, options)
    if not mounted:
        settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"tests.failing_storage.{stand_in}"}}
    return root, mounted


@pytest.fixture
def full_disk(settings, tmp_path):
    """A media disk with one 4 KiB page left: every image or thumbnail write runs out of space."""
    root, mounted = media_on(settings, tmp_path, options=f"size={TMPFS_BYTES}", stand_in="FullDiskStorage")
    if mounted:
        (root / "filler").write_bytes(b"\0" * (TMPFS_BYTES - 4096))
    yield SimpleNamespace(root=root, mounted=mounted, kept={"filler"} if mounted else set())
    if mounted:
        subprocess.run(["umount", str(root)], check=True)


@pytest.fixture
def read_only_media(settings, tmp_path):
    """A read-only media disk: chmod for a normal user; a read-only tmpfs for root (whom no mode
    stops), or a storage that refuses writes where root may not mount."""
    if os.geteuid() != 0:
        root = tmp_path / "media-disk"
        root.mkdir()
        root.chmod(0o555)
        settings.MEDIA_ROOT = root
        yield SimpleNamespace(root=root, mounted=False, reason="Permission denied")
        root.chmod(0o755)
        return
    root, mounted = media_on(settings, tmp_path, options="ro,size=64k", stand_in="ReadOnlyStorage")
    yield SimpleNamespace(root=root, mounted=mounted, reason="Read-only file system")
    if mounted:
        subprocess.run(["umount", str(root)], check=True)


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def offline_job(user) -> Job:
    request = specs.build(model="offline", prompt="a lighthouse", aspect_ratio="16:9", quality="draft", n=2)
    return jobs.job_create(owner=user, request=request, enqueue=False)


def test_a_full_disk_fails_the_job_as_storage_full_and_leaves_no_partial_file(full_disk, user):
    job = offline_job(user)
    assert tasks.run_job(job.pk) == "failed: storage"
    job.refresh_from_db()
    assert job.status == "failed" and job.error_kind == "storage"
    assert "could not store the result: storage full (No space left on device)" in job.error_message
    assert "made the 2 images and was paid" in job.error_message and "internal" not in job.error_message
    assert files_under(full_disk.root) == full_disk.kept and not Image.objects.exists()


def test_a_read_only_disk_fails_the_job_as_storage_not_writable(read_only_media, user):
    job = offline_job(user)
    assert tasks.run_job(job.pk) == "failed: storage"
    job.refresh_from_db()
    assert job.error_kind == "storage"
    assert f"storage not writable ({read_only_media.reason})" in job.error_message
    assert files_under(read_only_media.root) == set()


def test_a_paid_result_that_cannot_be_stored_is_counted_and_not_bought_again(full_disk, openai_emulator, user):
    job = make_job(owner=user, model_id="gpt-image-1.5", params=JOB_PARAMS)
    assert tasks.run_job(job.pk) == "failed: storage"
    job.refresh_from_db()
    assert len(openai_emulator.requests) == 1 and job.attempts == 1
    assert job.cost and job.cost > 0 and job.usage  # what the provider billed is on the job
    assert jobs.month_spend(user) == job.cost  # and the budget counts it
    assert "Retry then runs the job anew and is charged again" in job.error_message
    assert files_under(full_disk.root) == full_disk.kept


def test_healthz_answers_503_when_media_is_read_only(read_only_media, client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "checks": {"database": "ok", "broker": "ok", "storage": f"storage not writable ({read_only_media.reason})"},
    }


def test_healthz_is_200_without_a_login_and_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz")
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}


STARTS = {
    "check": ["manage.py", "check"],
    "worker": ["manage.py", "qcluster"],
    "web server": ["-m", "waitress", "--listen=127.0.0.1:0", "config.wsgi:application"],
}


@pytest.mark.parametrize("process", STARTS)
def test_start_up_refuses_a_read_only_media_root(read_only_media, tmp_path, process):
    if not (read_only_media.mounted or os.geteuid() != 0):
        pytest.skip("root without the right to mount: the disk cannot be made read-only for another process")
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    environment.update(ATELIER_DATA_DIR=str(tmp_path / "data"), MEDIA_ROOT=str(read_only_media.root))
    result = subprocess.run(
        [sys.executable, *STARTS[process]], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    reason = f"Media storage failed a test write: storage not writable ({read_only_media.reason})."
    assert reason in result.stderr


def test_an_edit_that_cannot_store_its_inputs_says_so_and_leaves_nothing(full_disk, alice):
    upload = SimpleUploadedFile("mine.png", png_bytes(64, 64), content_type="image/png")
    response = submit(alice, operation="edit", image=upload, mask=mask_file())
    assert response.status_code == 422
    assert "Atelier could not store the images: storage full (No space left on device)" in response.content.decode()
    assert not Job.objects.exists() and files_under(full_disk.root) == full_disk.kept


def test_the_api_answers_503_when_it_cannot_store_an_edits_inputs(read_only_media, user):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="test", digest=hash_token(raw), hint=raw[:8])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 32))
    payload = {"operation": "edit", "model": "offline", "prompt": "p", "quality": "draft", "image": b64(png_bytes())}
    payload["mask"] = b64(imaging.png_bytes(mask))
    response = api.post("/api/v1/jobs", json.dumps(payload), content_type="application/json")
    assert response.status_code == 503 and response.json()["error"]["kind"] == "storage"
    assert f"storage not writable ({read_only_media.reason})" in response.json()["error"]["message"]
    assert not Job.objects.exists()
