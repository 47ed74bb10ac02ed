"""Generate images from the command line, through the same validation and job queue as the web UI."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from studio import media, specs, tasks
from studio.jobs import JobRefused, job_create
from studio.models import Job


class Command(BaseCommand):
    help = "Queue a generation job and optionally wait for it, printing where the images are (path or URL)."

    def add_arguments(self, parser):
        parser.add_argument("--model", default="offline", help="catalog model id (see /api/v1/models)")
        parser.add_argument("--prompt", required=True)
        parser.add_argument("--negative-prompt", default="")
        parser.add_argument("--aspect", help="aspect ratio such as 16:9 (default: the model's first size)")
        parser.add_argument("--size", help="exact size such as 1344x768 (instead of --aspect)")
        parser.add_argument("--quality", help="default: the model's default quality")
        parser.add_argument("-n", "--count", type=int, default=1)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--user", help="owner of the job (default: the first superuser)")
        parser.add_argument("--wait", action="store_true", help="wait for a running worker to finish the job")
        parser.add_argument("--inline", action="store_true", help="run the job in this process; no worker needed")
        parser.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits")

    def handle(self, *args, **opts):
        owner = self._owner(opts["user"])
        payload = {"model": opts["model"], "prompt": opts["prompt"], "negative_prompt": opts["negative_prompt"]}
        for key, arg in (("aspect_ratio", "aspect"), ("size", "size"), ("quality", "quality"), ("seed", "seed")):
            if opts[arg] is not None:
                payload[key] = opts[arg]
        payload["n"] = opts["count"]
        payload["options"] = dict(self._option(raw) for raw in opts["option"])
        try:
            request = specs.build(**payload)
            job = job_create(owner=owner, request=request, enqueue=not opts["inline"])
        except specs.Invalid as exc:
            lines = [f"  {field}: {' '.join(errors)}" for field, errors in exc.errors.items()]
            raise CommandError("The request is not valid:\n" + "\n".join(lines)) from exc
        except JobRefused as exc:
            raise CommandError(str(exc)) from exc
        if opts["inline"]:
            tasks.run_job(job.pk)
        else:
            self.stdout.write(f"Queued job {job.pk}.")
            if not opts["wait"]:
                return
            self._wait(job, opts["timeout"])
        self._report(Job.objects.get(pk=job.pk))

    def _owner(self, username: str | None):
        User = get_user_model()
        user = (
            User.objects.filter(username=username).first()
            if username
            else User.objects.filter(is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError("No such user. Pass --user, or run `manage.py ensure_first_user`.")
        return user

    @staticmethod
    def _option(raw: str) -> tuple[str, str]:
        name, sep, value = raw.partition("=")
        if not sep:
            raise CommandError(f"--option takes NAME=VALUE, not {raw!r}")
        return name, value

    def _wait(self, job: Job, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.is_final:
                return
            time.sleep(0.25)
        raise CommandError(
            f"Job {job.pk} is still {job.status} after {timeout:.0f}s. Is a worker running "
            "(`make run` or `manage.py qcluster`)? Use --inline to run without one."
        )

    def _report(self, job: Job) -> None:
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"Job {job.pk} {job.status}: {job.error_message}")
        for image in job.images.order_by("index"):
            self.stdout.write(media.location(image.file))
