"""Provider overhead with an emulated 2 s provider (Replicate emulator, real SDK, real worker).

Targets (issue 4):
- end-to-end job time <= 1.05x the provider time (median), with 2 s provider latency;
- a burst of 50 jobs completes within 1.2x of ceil(50 / workers) x 2 s;
- a 429 with Retry-After: 1 is retried after >= 1 s and the job then succeeds.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time

from harness import ROOT, print_table, setup_django, start_worker, summary

LATENCY = 2.0
SEQUENTIAL = 10
BURST = 50
WORKERS = 5


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.emulators.base import Fault
    from tests.emulators.replicate_api import ReplicateEmulator

    emulator = ReplicateEmulator(latency=LATENCY).start()
    os.environ.update(
        REPLICATE_API_TOKEN=emulator.token,
        REPLICATE_BASE_URL=emulator.url,
        DOWNLOAD_INSECURE_HOSTS=emulator.url.removeprefix("http://"),
        # The burst is one user's: above the per-user cap of queued + running jobs.
        JOB_USER_MAX_ACTIVE=str(BURST + 10),
    )
    setup_django()
    from django.contrib.auth import get_user_model

    from studio import specs
    from studio.jobs import job_create
    from studio.models import Job

    owner = get_user_model().objects.create_user("bench")

    def submit(i: int) -> Job:
        # The API, the form and the CLI all build this same request.
        request = specs.build(model="flux-schnell", prompt=f"bench {i}", seed=i)
        return job_create(owner=owner, request=request)

    def wait(jobs: list[Job], timeout: float = 300) -> list[Job]:
        deadline = time.monotonic() + timeout
        ids = [j.pk for j in jobs]
        while Job.objects.filter(pk__in=ids).exclude(status__in=Job.FINAL).exists():
            if time.monotonic() > deadline:
                raise SystemExit("jobs did not finish; is the worker running?")
            time.sleep(0.05)
        done = list(Job.objects.filter(pk__in=ids))
        failed = [j for j in done if j.status != Job.Status.SUCCEEDED]
        if failed:
            raise SystemExit(f"{len(failed)} jobs failed: {failed[0].error_message}")
        return done

    worker = start_worker(workers=WORKERS)
    try:
        wait([submit(0)])  # warm-up: the cluster starts
        end_to_end, run = [], []
        for i in range(1, SEQUENTIAL + 1):
            job = wait([submit(i)])[0]
            end_to_end.append((job.finished_at - job.queued_at).total_seconds())
            run.append((job.finished_at - job.started_at).total_seconds())
            time.sleep(0.2)
        rows = [
            ["queued → finished", *summary(end_to_end).values(), statistics.median(end_to_end) / LATENCY],
            ["started → finished", *summary(run).values(), statistics.median(run) / LATENCY],
        ]
        print_table(
            f"Sequential jobs, provider latency {LATENCY:.0f} s (seconds; ratio = median / provider time)",
            ["span", "n", "p50", "p95", "max", "ratio"],
            rows,
        )

        started = time.monotonic()
        burst = wait([submit(100 + i) for i in range(BURST)])
        elapsed = time.monotonic() - started
        ideal = math.ceil(BURST / WORKERS) * LATENCY
        print_table(
            f"Burst of {BURST} jobs, {WORKERS} workers, provider latency {LATENCY:.0f} s",
            ["jobs", "workers", "ideal s", "took s", "ratio (target <= 1.2)"],
            [[len(burst), WORKERS, ideal, elapsed, elapsed / ideal]],
        )

        emulator.faults.append(Fault(status=429, body={"title": "Throttled", "detail": "slow down", "status": 429},
                                     headers={"Retry-After": "1"}))  # fmt: skip
        before = len(emulator.requests)
        job = wait([submit(999)])[0]
        creates = [t for t in emulator.request_times[before:] if t[1].endswith("/predictions")]
        gap = creates[1][0] - creates[0][0] if len(creates) >= 2 else float("nan")
        print_table(
            "429 with Retry-After: 1",
            ["job status", "attempts", "seconds between the two create calls (target >= 1)"],
            [[job.status, job.attempts, gap]],
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        emulator.stop()


if __name__ == "__main__":
    main()
