"""Queue pickup latency: from submit (job row created, enqueued on commit) to the job running.

Target (issue 3): p95 <= 0.5 s on the default setup (SQLite + ORM broker) with an idle worker.
Each job is submitted only after the previous one finished, so the worker is idle every time.
"""

from __future__ import annotations

import argparse
import time

from harness import print_table, setup_django, start_worker, summary

JOBS = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=JOBS, help=f"jobs to time (default {JOBS})")
    jobs = parser.parse_args().jobs
    setup_django()
    from django.contrib.auth import get_user_model

    from studio import specs
    from studio.jobs import job_create
    from studio.models import Job

    owner = get_user_model().objects.create_user("bench")
    worker = start_worker(workers=2)
    try:
        pickups, totals = [], []
        for i in range(jobs + 1):
            # The request the form, the API and the CLI build (studio.specs), then the service they call.
            request = specs.build(model="offline", prompt=f"bench {i}", quality="draft", size="640x1536")
            job = job_create(owner=owner, request=request)
            deadline = time.monotonic() + 60
            while not Job.objects.filter(pk=job.pk, status__in=Job.FINAL).exists():
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {job.pk} did not finish; is the worker running?")
                time.sleep(0.02)
            job.refresh_from_db()
            if i == 0:
                continue  # the first job also waits for the cluster to start
            pickups.append(job.queue_seconds)
            totals.append((job.finished_at - job.queued_at).total_seconds())
            time.sleep(0.3)  # let the worker go idle again
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    rows = [["submit → running", *summary(pickups).values()], ["submit → succeeded", *summary(totals).values()]]
    print_table(
        "Queue pickup, SQLite + django-q2 ORM broker, idle worker (seconds)", ["span", "n", "p50", "p95", "max"], rows
    )


if __name__ == "__main__":
    main()
