"""The blocking half of the compatible APIs: wait for a job to end, then read what it made."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

from django.core.files.storage import default_storage

from gallery.models import Image
from studio import jobs
from studio.models import Job
from studio.providers.base import ErrorKind

# A job that failed, as an HTTP status: the caller's request (400), Atelier's limits (429), or
# the provider's side (503 and 504: the provider's own key, rate or outage).
STATUS_BY_KIND = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.CONTENT_POLICY: 400,
    ErrorKind.AUTH: 503,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TIMEOUT: 504,
    ErrorKind.INTERNAL: 500,
}
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5


class StillRunning(Exception):
    """The wait ended before the job did; the job goes on and lands in the gallery."""

    def __init__(self, job_id: int, seconds: float) -> None:
        super().__init__(
            f"Job {job_id} did not finish within {seconds:g} seconds; it goes on, and its images will "
            f"be in the gallery (GET /api/v1/jobs/{job_id})."
        )
        self.job_id = job_id


@dataclass(frozen=True)
class Failure:
    status: int
    message: str
    code: str


def wait_for(job_id: int, seconds: float) -> Job:
    """The job once it is final (its images in order), polling the row with a deadline."""
    deadline = time.monotonic() + seconds
    delay = FIRST_POLL_SECONDS
    while True:
        status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
        if status is None or status in Job.FINAL:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            raise StillRunning(job_id, seconds)
        time.sleep(min(delay, left))
        delay = min(delay * 1.5, MAX_POLL_SECONDS)
    job = Job.objects.prefetch_related(jobs.images_by_index()).filter(pk=job_id).first()
    if job is None:
        return Job(pk=job_id, status=Job.Status.CANCELED, error_message="The job was deleted while it ran.")
    return job


def failure(job: Job) -> Failure | None:
    """Why a final job made no images, as a status, a message and a code; None if it succeeded."""
    if job.status == Job.Status.SUCCEEDED:
        return None
    if job.status == Job.Status.CANCELED:
        return Failure(409, f"Job {job.pk} was canceled: {job.error_message}", "job_canceled")
    try:
        kind = ErrorKind(job.error_kind)
    except ValueError:
        kind = ErrorKind.INTERNAL
    return Failure(STATUS_BY_KIND[kind], f"Job {job.pk} failed: {job.error_message}", kind.value)


def image_base64(image: Image) -> str:
    with default_storage.open(image.file) as file:
        return base64.b64encode(file.read()).decode("ascii")


def image_format(image: Image) -> str:
    """png, jpeg or webp, from the stored file's name."""
    extension = image.file.rsplit(".", 1)[-1].lower()
    return "jpeg" if extension == "jpg" else extension
