"""Chaos benchmark (issue 10): 200 jobs through the API from 20 concurrent clients on PostgreSQL +
Redis + 2 clusters × 2 workers, a Replicate emulator at 1 s a prediction; one cluster's whole
process group is SIGKILLed when a third of the jobs are done, and restarted at once.

Targets: ok / lost / duplicated = 200 / 0 / 0; the whole burst within 1.3× the ideal time (jobs ×
latency / workers); the gallery page's p95 during the burst within 2× its p95 when idle.
Recovery runs with its defaults (JOB_STALE_AFTER_SECONDS=60, JOB_RECOVERY_SECONDS=10); the
restarted cluster recovers its predecessor's running jobs at its start, by their recorded worker.

POSTGRES_URL names the server (a fresh database is made there and dropped); Redis is a private
redis-server on a free port. Run: `.venv/bin/python bench/chaos.py` (`--no-kill`: the same burst
with nothing killed, the baseline this machine reaches).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.cluster_rig import Database, PrivateRedis, Rig, wait_until  # noqa: E402
from tests.emulators.replicate_api import ReplicateEmulator  # noqa: E402

JOBS, CLIENTS, CLUSTERS, WORKERS, LATENCY = 200, 20, 2, 2, 1.0
MODEL = "flux-schnell"
FINAL = ("succeeded", "failed", "canceled")

SESSION = """
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username="client0")
session = SessionStore()
session.update({SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})
session.create()
print(session.session_key)
"""


def post_job(url: str, token: str, prompt: str) -> int:
    body = json.dumps({"model": MODEL, "prompt": prompt}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/api/v1/jobs", body, headers), timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def page_seconds(url: str, session: str) -> float:
    request = urllib.request.Request(f"{url}/gallery/", headers={"Cookie": f"sessionid={session}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        assert response.status == 200
    return time.perf_counter() - started


def page_loads(url: str, session: str, stop, out, *, count: int = 0) -> None:
    """Load the gallery page every 0.1 s until `stop` is set (or `count` times), in a process of its
    own: in the bench process the emulator's drawing would hold the GIL and slow the client."""
    seconds = []
    while not stop.is_set() and (not count or len(seconds) < count):
        seconds.append(page_seconds(url, session))
        time.sleep(0.1)
    out.put(seconds)


def measure_pages(url: str, session: str, *, count: int = 0) -> tuple[multiprocessing.Process, object, object]:
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    process = multiprocessing.Process(target=page_loads, args=(url, session, stop, out), kwargs={"count": count})
    process.start()
    return process, stop, out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="atelier-chaos-"))
    emulator = ReplicateEmulator(latency=LATENCY).start()
    broker = PrivateRedis(root / "redis").start()
    database = Database.postgres(os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/atelier"))
    rig = Rig(
        root,
        database,
        {"Q_BROKER": "redis", "REDIS_URL": broker.url},
        REPLICATE_API_TOKEN=emulator.token,
        REPLICATE_BASE_URL=emulator.url,
        DOWNLOAD_INSECURE_HOSTS=emulator.url.removeprefix("http://"),
        REPLICATE_WAIT_SECONDS="0",
    )
    try:
        rig.migrate()
        tokens = rig.tokens([f"client{i}" for i in range(CLIENTS)])
        session = rig.python(SESSION).strip()
        _, url = rig.start_web(threads=16)
        clusters = {f"host-{c}": rig.start_cluster(f"host-{c}", workers=WORKERS) for c in "ab"}
        stats = redis.from_url(broker.url)
        wait_until(lambda: len(stats.keys("django_q:atelier:cluster*")) == CLUSTERS, timeout=60, what="clusters up")
        result = burst(rig, url, tokens, session, clusters, kill="--no-kill" not in sys.argv)
        _, _, out = measure_pages(url, session, count=60)  # the same gallery, nothing running
        idle = out.get()
        report(rig, emulator, result, idle)
    finally:
        rig.stop_all()
        broker.stop()
        emulator.stop()
        database.drop()


def burst(rig: Rig, url: str, tokens: dict[str, str], session: str, clusters: dict, *, kill: bool) -> dict:
    statuses: Counter = Counter()

    def client(name: str) -> None:
        for i in range(JOBS // CLIENTS):
            statuses[post_job(url, tokens[name], f"chaos {name}-{i}")] += 1

    started = time.time()
    threads = [threading.Thread(target=client, args=(name,)) for name in tokens]
    poller, stop, out = measure_pages(url, session)
    for thread in threads:
        thread.start()

    def finished() -> int:
        return rig.database.rows(f"SELECT count(*) FROM studio_job WHERE status IN {FINAL}")[0][0]

    wait_until(lambda: finished() >= JOBS // 3, timeout=300, interval=0.05, what="a third done")
    on_a = "SELECT id FROM studio_job WHERE status = 'running' AND worker LIKE 'host-a:%'"
    running_on_a = [row[0] for row in rig.database.rows(on_a)] if kill else []
    killed = time.time()
    if kill:
        Rig.kill(clusters["host-a"])
        rig.start_cluster("host-a", workers=WORKERS)
    for thread in threads:
        thread.join()
    wait_until(lambda: finished() >= JOBS, timeout=600, what="every job final")
    stop.set()
    during = out.get()
    poller.join()
    return {"started": started, "killed": killed, "recovered": running_on_a, "submits": statuses, "during": during}


def report(rig: Rig, emulator: ReplicateEmulator, result: dict, idle: list[float]) -> None:
    rows = rig.database.rows(
        "SELECT id, prompt, status, EXTRACT(EPOCH FROM finished_at) FROM studio_job WHERE prompt LIKE 'chaos %'"
    )
    not_ok = rig.database.rows(
        "SELECT prompt, status, provider_job_id, error_message FROM studio_job "
        "WHERE prompt LIKE 'chaos %' AND status <> 'succeeded'"
    )
    bought = Counter(
        r.json["input"]["prompt"] for r in emulator.requests if r.method == "POST" and r.path.endswith("/predictions")
    )
    ok = sum(status == "succeeded" for _, _, status, _ in rows)
    duplicated = sum(count > 1 for count in bought.values())
    last = max(float(finished) for *_, finished in rows)
    recovered = [float(f) for pk, _, _, f in rows if pk in result["recovered"]]
    elapsed = last - result["started"]
    ideal = JOBS * LATENCY / (CLUSTERS * WORKERS)
    idle_p95, during_p95 = p95(idle), p95(result["during"])
    print(f"\nChaos: {JOBS} jobs, {CLIENTS} API clients, PostgreSQL + Redis, {CLUSTERS} clusters × {WORKERS} workers,")
    if result["recovered"] or "--no-kill" not in sys.argv:
        print(f"provider {LATENCY:g} s; host-a SIGKILLed at {result['killed'] - result['started']:.1f} s, restarted\n")
    else:
        print(f"provider {LATENCY:g} s; no kill (the baseline for this machine)\n")
    print("| measure | value | target |\n|---|---|---|")
    print(f"| submits answered | {dict(result['submits'])} | all 201 |")
    print(f"| ok / lost / duplicated | {ok} / {JOBS - ok} / {duplicated} | {JOBS} / 0 / 0 |")
    print(f"| jobs running on the killed cluster | {len(result['recovered'])} | |")
    if recovered:
        print(f"| kill → last of them finished | {max(recovered) - result['killed']:.1f} s | |")
    print(f"| burst time / ideal ({ideal:.0f} s) | {elapsed:.1f} s = {elapsed / ideal:.2f}× | ≤ 1.3× |")
    print(
        f"| gallery p95 during / idle | {during_p95 * 1000:.0f} ms / {idle_p95 * 1000:.0f} ms = "
        f"{during_p95 / idle_p95:.2f}× (n={len(result['during'])}) | ≤ 2× |"
    )
    for prompt, status, provider_job_id, error in not_ok:
        print(f"\nnot ok: {prompt}: {status}, provider job id {provider_job_id or 'none'}, ", end="")
        print(f"predictions bought {bought[prompt]}: {error}")


if __name__ == "__main__":
    main()
