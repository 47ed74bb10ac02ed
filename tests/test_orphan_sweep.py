"""The orphan sweep deletes media files no row points to once they are past the grace period, on
the local disk and on S3, and keeps every file a row refers to."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_q.models import Schedule

from gallery import orphans
from studio import media
from tests.factories import make_image, make_job, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", "s3"])
def storage_kind(request):
    if request.param == "s3":
        request.getfixturevalue("s3_media")
    return request.param


def write(folder: str) -> str:
    return media.store(folder, "png", png_bytes())


def all_files() -> set[str]:
    return {name for folder in orphans.FOLDERS for name, _ in orphans._files(default_storage, folder)}


def test_files_no_row_points_to_are_swept_and_the_rest_kept(storage_kind, settings):
    image = make_image()
    edit = make_job(source_file=write("inputs"), mask_file=write("masks"))
    reference = write("inputs")
    make_job(params={**edit.params, "references": [reference]})
    running = make_job(status="running", preview=write("previews"))
    kept = {image.file, image.thumbnail, edit.source_file, edit.mask_file, reference, running.preview}
    deleted_job = make_job(source_file=write("inputs"), mask_file=write("masks"))
    deleted_job.delete()  # its input and mask are left behind
    # A worker killed between writing the files and recording the rows; a probe killed mid-way.
    orphaned = {write("images"), write("thumbs"), deleted_job.source_file, deleted_job.mask_file}
    # The last preview of a job whose worker died: the job failed, nothing shows the preview.
    orphaned.add(make_job(status="failed", preview=write("previews")).preview)
    orphaned.add(default_storage.save(f"{media.PROBE_FOLDER}/left.txt", ContentFile(b"ok")))
    assert all_files() == kept | orphaned

    settings.ORPHAN_GRACE_SECONDS = 3600
    assert orphans.sweep_orphan_files() == 0  # too young: their rows may not be committed yet
    settings.ORPHAN_GRACE_SECONDS = 0
    assert orphans.sweep_orphan_files() == len(orphaned)
    assert all_files() == kept
    assert orphans.sweep_orphan_files() == 0  # a second cluster's run finds nothing to do


def test_the_sweep_is_scheduled_hourly():
    schedule = Schedule.objects.get(func="gallery.orphans.sweep_orphan_files")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 60 and schedule.repeats == -1
