"""Whatever dies, no job is lost and none is bought twice: real `qcluster` processes on PostgreSQL
+ Redis and on SQLite + the ORM broker, a Replicate emulator that counts every prediction it sold,
a cluster's whole process group SIGKILLed mid-burst, Redis stopped at submit, the cluster timeout."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.cluster_rig import Database, PrivateRedis, Rig, free_port, wait_until
from tests.conftest import new_bucket, s3_env
from tests.emulators.base import Fault
from tests.emulators.replicate_api import ReplicateEmulator

pytestmark = [pytest.mark.chaos]

POSTGRES = os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/atelier")
MODEL = "flux-schnell"
# Recovery on a test's time scale: heartbeats every second, a worker dead after 4 s of silence
# (at once for the cluster restarted on its host), every worker sweeping each second. `REPLICATE_WAIT_SECONDS=0`:
# the prediction id comes back at once, so a worker killed while it waits leaves an id to re-attach to.
FAST_RECOVERY = {
    "JOB_HEARTBEAT_SECONDS": "1",
    "JOB_STALE_AFTER_SECONDS": "4",
    "JOB_RECOVERY_SECONDS": "1",
    "JOB_USER_MAX_ACTIVE": "1000",
    "REPLICATE_WAIT_SECONDS": "0",
}


@pytest.fixture(scope="module")
def emulator():
    server = ReplicateEmulator(latency=1.0).start()
    yield server
    server.stop()


def provider_env(emulator: ReplicateEmulator) -> dict[str, str]:
    return {
        "REPLICATE_API_TOKEN": emulator.token,
        "REPLICATE_BASE_URL": emulator.url,
        "DOWNLOAD_INSECURE_HOSTS": emulator.url.removeprefix("http://"),
    }


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_rig(tmp_path_factory, redis, emulator, s3_server):
    """Hosts that share PostgreSQL, Redis and an S3 bucket (the local S3 server), nothing else."""
    database = Database.postgres(POSTGRES)
    broker = {"Q_BROKER": "redis", "REDIS_URL": redis.url}
    rig = Rig(tmp_path_factory.mktemp("pg-hosts"), database, broker, **FAST_RECOVERY, **provider_env(emulator))
    rig.bucket = new_bucket(s3_server)
    rig.media = s3_env(rig.bucket)
    try:
        rig.migrate()
        yield rig
    finally:
        rig.stop_all()
        database.drop()


@pytest.fixture(scope="module")
def sqlite_rig(tmp_path_factory, emulator):
    root = tmp_path_factory.mktemp("sqlite-hosts")
    database = Database.sqlite(root / "shared.sqlite3")
    rig = Rig(root, database, {"Q_BROKER": "orm"}, **FAST_RECOVERY, **provider_env(emulator))
    rig.migrate()
    yield rig
    rig.stop_all()


def predictions_bought(emulator: ReplicateEmulator) -> Counter:
    """Predictions created at the emulator, by prompt: what the user paid for."""
    return Counter(
        r.json["input"]["prompt"] for r in emulator.requests if r.method == "POST" and r.path.endswith("/predictions")
    )


def jobs_of(rig: Rig, label: str) -> list[tuple[int, str, str, str]]:
    return [job for job in rig.database.jobs() if job[2].startswith(label)]


def kill_mid_burst_then_restart(rig: Rig, emulator: ReplicateEmulator, label: str, count: int = 16) -> None:
    prompts = [f"{label} {i}" for i in range(count)]
    try:
        host_a, _ = rig.start_cluster("host-a"), rig.start_cluster("host-b")
        rig.submit([(f"user{i % 3}", MODEL, prompt) for i, prompt in enumerate(prompts)])

        def finished() -> int:
            return sum(status in ("succeeded", "failed", "canceled") for _, status, _, _ in jobs_of(rig, label))

        wait_until(lambda: finished() >= count // 4, timeout=60, what="a quarter of the burst done")
        assert any(status == "running" for _, status, _, _ in jobs_of(rig, label))
        rig.kill(host_a)
        rig.start_cluster("host-a")
        wait_until(lambda: finished() == count, timeout=60, what="every job final")
    finally:
        logs = rig.log("host-a") + rig.log("host-b")
        rig.stop_all()
    rows = rig.database.rows(
        f"SELECT prompt, status, provider_job_id, error_message FROM studio_job WHERE prompt LIKE '{label}%'"
    )
    # The one window recovery cannot cover: the kill lands while the create call is in flight (or
    # before its answer's id is stored), so no id is known to re-attach to. That job fails as
    # "worker lost" (retry is the user's call), and it was bought at most once.
    in_flight = [p for p, status, provider_job_id, error in rows if status == "failed" and not provider_job_id]
    assert all(status == "succeeded" for p, status, _, _ in rows if p not in in_flight), (rows, logs)
    assert all("worker lost" in error for p, _, _, error in rows if p in in_flight)
    assert len(in_flight) <= 2, (rows, logs)  # at most one per worker of the killed cluster
    bought = predictions_bought(emulator)
    assert {p: bought[p] for p in prompts if p not in in_flight} == {p: 1 for p in prompts if p not in in_flight}
    assert all(bought[p] <= 1 for p in in_flight)  # the kill may also land just before the call left


def test_a_cluster_killed_mid_burst_on_postgres_and_redis_loses_nothing_and_buys_nothing_twice(postgres_rig, emulator):
    kill_mid_burst_then_restart(postgres_rig, emulator, "pg burst")
    served_from_the_bucket(postgres_rig, "pg burst")


def served_from_the_bucket(rig: Rig, label: str) -> None:
    """Every image the burst made is in the bucket, none on a host's disk, and a web process
    (a host of its own) serves each one to its owner."""
    keys = {o["Key"] for o in rig.bucket.client.list_objects_v2(Bucket=rig.bucket.name).get("Contents", [])}
    owners = dict(
        rig.database.rows(
            "SELECT studio_job.id, auth_user.username FROM studio_job JOIN auth_user ON auth_user.id = owner_id"
            f" WHERE prompt LIKE '{label}%' AND status = 'succeeded'"
        )
    )
    ids = ",".join(map(str, owners)) or "0"
    files = rig.database.rows(f"SELECT job_id, file, thumbnail FROM gallery_image WHERE job_id IN ({ids})")
    assert files and all(file in keys and thumbnail in keys for _, file, thumbnail in files)
    assert not any(path.is_file() for path in rig.root.rglob("images/**/*"))
    tokens = rig.tokens(sorted(set(owners.values())))
    try:
        _, url = rig.start_web()
        for job_id, owner in owners.items():
            bearer = {"Authorization": f"Bearer {tokens[owner]}"}
            with urllib.request.urlopen(
                urllib.request.Request(f"{url}/api/v1/jobs/{job_id}", headers=bearer)
            ) as response:
                images = json.loads(response.read())["images"]
            for image in images:
                with urllib.request.urlopen(urllib.request.Request(image["url"], headers=bearer)) as response:
                    assert response.status == 200 and len(response.read()) > 100
    finally:
        rig.stop_all()


def test_a_cluster_killed_mid_burst_on_sqlite_and_the_orm_broker_loses_nothing_and_buys_nothing_twice(
    sqlite_rig, emulator
):
    kill_mid_burst_then_restart(sqlite_rig, emulator, "sqlite burst")


def post_job(url: str, token: str, prompt: str) -> tuple[int, dict]:
    body = json.dumps({"model": MODEL, "prompt": prompt}).encode()
    request = urllib.request.Request(
        f"{url}/api/v1/jobs", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_with_redis_stopped_a_submit_is_refused_with_503_and_works_once_it_is_back(postgres_rig, redis, emulator):
    token = postgres_rig.tokens(["carol"])["carol"]
    try:
        _, url = postgres_rig.start_web()
        redis.stop()
        status, body = post_job(url, token, "redis down 1")
        assert status == 503 and body["error"]["kind"] == "queue_unavailable", body
        assert "nothing was queued or charged" in body["error"]["message"]
        assert jobs_of(postgres_rig, "redis down") == []  # nothing left to count against a budget
        redis.start()
        status, body = post_job(url, token, "redis down 2")
        assert status == 201, body
        postgres_rig.start_cluster("host-a")
        wait_until(lambda: jobs_of(postgres_rig, "redis down 2")[0][1] == "succeeded", timeout=30, what="the job")
    finally:
        postgres_rig.stop_all()


def test_the_cluster_timeout_fails_the_job_as_timed_out_and_holds_the_prediction_for_collect(postgres_rig, emulator):
    # Everything Atelier bounds itself fits in 6 s; the download (30 s cap) hangs past it. The
    # prediction had succeeded: canceling it would throw the paid result away, so it is held.
    timeouts = {
        "JOB_TIMEOUT_SECONDS": "6",
        "JOB_MAX_ATTEMPTS": "1",
        "PROVIDER_TIMEOUT_SECONDS": "2",
        "PROVIDER_JOB_DEADLINE_SECONDS": "4",
        "Q_RETRY_SECONDS": "20",
    }
    emulator.faults.append(Fault(on="GET /files/", delay=15))
    try:
        postgres_rig.start_cluster("host-t", workers=1, **timeouts)
        postgres_rig.submit([("dave", MODEL, "too slow"), ("dave", MODEL, "next one")])
        wait_until(
            lambda: (
                {s for _, s, _, _ in jobs_of(postgres_rig, "too slow") + jobs_of(postgres_rig, "next one")}
                <= {"succeeded", "failed"}
            ),
            timeout=40,
            what="both jobs final",
        )
    finally:
        log = postgres_rig.log("host-t")
        postgres_rig.stop_all()
    [(job_id, status, _, error)] = jobs_of(postgres_rig, "too slow")
    assert status == "failed" and "(timed out)" in error and "Collect result" in error, (error, log)
    assert postgres_rig.database.rows(f"SELECT result_held FROM studio_job WHERE id = {job_id}") == [(True,)]
    # The worker goes on to the next job.
    assert jobs_of(postgres_rig, "next one")[0][1] == "succeeded", (jobs_of(postgres_rig, "next one"), log)
    assert [r.path for r in emulator.requests if r.path.endswith("/cancel")] == []
    assert predictions_bought(emulator)["too slow"] == 1


def test_ctrl_c_lets_the_running_job_finish_takes_no_other_and_the_rest_runs_after_a_restart(sqlite_rig, emulator):
    from studio.management.commands.runstudio import group_running

    emulator.latency = 2.0
    try:
        studio = sqlite_rig.spawn(
            [sys.executable, "manage.py", "runstudio", "--port", str(free_port())],
            "host-s",
            Q_WORKERS="1",
            JOB_DRAIN_SECONDS="20",
        )
        sqlite_rig.submit([("erin", MODEL, f"drain {i}") for i in range(3)])
        wait_until(lambda: jobs_of(sqlite_rig, "drain 0")[0][1] == "running", timeout=30, what="the first job")
        worker_group = next(p for p in descendant_groups(studio.pid) if p != studio.pid)
        studio.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal sends
        studio.wait(timeout=30)
        assert not group_running(worker_group)
        assert [status for _, status, _, _ in jobs_of(sqlite_rig, "drain")] == ["succeeded", "queued", "queued"]
        sqlite_rig.start_cluster("host-s")
        wait_until(
            lambda: {s for _, s, _, _ in jobs_of(sqlite_rig, "drain")} == {"succeeded"}, timeout=40, what="the rest"
        )
    finally:
        emulator.latency = 1.0
        log = sqlite_rig.log("host-s")
        sqlite_rig.stop_all()
    assert all(predictions_bought(emulator)[f"drain {i}"] == 1 for i in range(3)), log


def descendant_groups(pid: int) -> set[int]:
    """The process groups of `pid`'s children (runstudio starts each child in a session of its own)."""
    groups = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            groups.add(int(fields[2]))
    return groups


def test_with_one_users_burst_queued_another_users_job_starts_within_one_job(postgres_rig):
    try:
        postgres_rig.start_cluster("host-a")
        postgres_rig.submit([("frank", MODEL, f"fair burst {i}") for i in range(20)])
        wait_until(lambda: any(s == "succeeded" for _, s, _, _ in jobs_of(postgres_rig, "fair burst")), timeout=30)
        postgres_rig.submit([("grace", MODEL, "fair single")])
        wait_until(lambda: jobs_of(postgres_rig, "fair single")[0][1] == "succeeded", timeout=30, what="grace's job")
        [(waited, left)] = postgres_rig.database.rows(
            "SELECT EXTRACT(EPOCH FROM started_at - queued_at), "
            "(SELECT count(*) FROM studio_job WHERE prompt LIKE 'fair burst%' AND status = 'queued') "
            "FROM studio_job WHERE prompt = 'fair single'"
        )
    finally:
        postgres_rig.stop_all()
    # A job takes about 1.1 s here; first in, first out it would have waited behind the burst.
    assert float(waited) < 3 and left > 5, (waited, left)


KILLED_WHILE_WRITING = """
import os, signal, sys, django
django.setup()
from django.contrib.auth import get_user_model
from studio import jobs, media, specs, tasks
owner, _ = get_user_model().objects.get_or_create(username="writer")
job = jobs.job_create(owner=owner, request=specs.build(model="offline", prompt="two kites", n=2), enqueue=False)
save = media._save
def save_then_die(name, data):
    saved = save(name, data)
    if name.startswith("thumbs/"):  # the first image and its thumbnail are on disk, no row yet
        os.kill(os.getpid(), signal.SIGKILL)
    return saved
media._save = save_then_die
tasks.run_job(job.pk)
"""

SWEEPS = """
import django
django.setup()
from gallery import orphans
from studio import recovery
from studio.models import Job
recovery.sweep()
print(Job.objects.get().status, orphans.sweep_orphan_files())
"""


def test_a_worker_killed_while_writing_images_leaves_no_file_behind_after_the_sweeps(tmp_path):
    """SIGKILL between a job's files and its rows: the recovery sweep settles the job (the offline
    renderer's call is synchronous, so it fails as worker lost and can be retried), and the orphan
    sweep deletes the files no row points to."""
    rig = Rig(tmp_path, Database.sqlite(tmp_path / "shared.sqlite3"), {"Q_BROKER": "orm"}, ORPHAN_GRACE_SECONDS="1")
    rig.migrate()
    with pytest.raises(RuntimeError):  # the process died by SIGKILL
        rig.python(KILLED_WHILE_WRITING, host="worker-host")
    media = tmp_path / "media"
    assert {p.parent.parent.name for p in media.rglob("*.*")} == {"images", "thumbs"}  # left half-done
    time.sleep(1.1)  # past the grace period that protects files whose rows are being written
    status, deleted = rig.python(SWEEPS, host="worker-host").split()  # the host's restarted cluster
    assert (status, deleted) == ("failed", "2")
    assert not [p for p in media.rglob("*") if p.is_file()]
    assert rig.database.rows("SELECT count(*) FROM gallery_image") == [(0,)]
