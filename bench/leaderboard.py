"""Leaderboard page server time at 10,000 votes: served from the cache, and right after a vote
(the cache invalidated, the board recomputed from the stored games).

Target (issue 13): p95 <= 50 ms of server time at 10,000 votes.
Votes go through the real service (comparisons.vote_cast), so the games are what users make;
server time is measured in-process through Django's test client: middleware, queries, template.
"""

from __future__ import annotations

import os
import random
import time

from harness import print_table, setup_django, summary

VOTES = 10_000
REQUESTS = 200
AFTER_VOTE = 60
VOTERS = 20
MODELS = (
    "dall-e-3", "gpt-image-1", "gpt-image-1.5", "sdxl-1.0", "sd3.5-large", "stable-image-core",
    "stable-image-ultra", "flux-1.1-pro", "flux-schnell", "flux-dev", "midjourney-v7", "flux-2-pro",
)  # fmt: skip
CATEGORIES = ("", "portrait", "product", "landscape", "logo")
OUTCOMES = ("best",) * 8 + ("tie", "all_bad")


def seed(voters, rng: random.Random) -> None:
    """VOTES / VOTERS comparisons of 2–4 random models, each voted on by every voter."""
    from django.db import transaction

    from studio import catalog, comparisons
    from studio.models import Comparison, Job

    models = [m for m in MODELS if m in catalog.MODELS]
    with transaction.atomic():
        for n in range(VOTES // len(voters)):
            picked = rng.sample(models, rng.choice((2, 2, 3, 4)))
            comparison = Comparison.objects.create(
                owner=voters[0], prompt=f"prompt {n}", blind=n % 5 != 0, category=CATEGORIES[n % len(CATEGORIES)],
                settings={"models": picked},
            )  # fmt: skip
            Job.objects.bulk_create(
                Job(owner=voters[0], model_id=m, prompt="p", status="succeeded", comparison=comparison, column=c)
                for c, m in enumerate(picked)
            )
            for voter in voters:
                outcome = rng.choice(OUTCOMES)
                pick = rng.randrange(len(picked)) if outcome == "best" else None
                comparisons.vote_cast(comparison=comparison, user=voter, outcome=outcome, pick=pick)


def timed(client, path: str, params: dict) -> float:
    start = time.perf_counter()
    response = client.get(path, params)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200
    return elapsed


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from studio import comparisons, leaderboard
    from studio.models import Comparison, Game, Vote

    rng = random.Random(13)
    User = get_user_model()
    voters = [User.objects.create_user(f"voter{i}") for i in range(VOTERS)]
    started = time.perf_counter()
    seed(voters, rng)
    seconds = time.perf_counter() - started
    print(f"seeded {Vote.objects.count():,} votes ({Game.objects.count():,} game rows) in {seconds:.1f}s")
    client = Client(HTTP_HOST="localhost")
    client.force_login(voters[0])
    path = "/compare/leaderboard/"
    cases = {
        "blind, all categories": {},
        "labelled, all categories": {"votes": "labelled"},
        "blind, one category": {"category": "portrait"},
    }
    rows = []
    for name, params in cases.items():
        timed(client, path, params)  # warm the cache
        cached = summary([timed(client, path, params) for _ in range(REQUESTS)])
        with CaptureQueriesContext(connection) as captured:
            client.get(path, params)
        queries = len(captured)  # now: the log is sliced by position when read
        fresh = []
        comparison = Comparison.objects.filter(blind=True).order_by("?").first()
        for i in range(AFTER_VOTE):  # each vote invalidates the cache; the next view recomputes
            outcome = ("tie", "best")[i % 2]
            comparisons.vote_cast(comparison=comparison, user=voters[i % VOTERS], outcome=outcome, pick=0)
            fresh.append(timed(client, path, params))
        fresh_stats = summary(fresh)
        rows.append([name, "cached", queries, cached["p50"], cached["p95"], cached["max"]])
        rows.append([name, "right after a vote", "", fresh_stats["p50"], fresh_stats["p95"], fresh_stats["max"]])
    compute = summary([_time(lambda: leaderboard.compute(leaderboard.Pool())) for _ in range(50)])
    rows.append(["compute() alone, blind", "uncached", "", compute["p50"], compute["p95"], compute["max"]])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print_table(
        f"Leaderboard at {Vote.objects.count():,} votes, SQLite (ms of server time; target p95 <= 50; "
        f"load average {load} on {os.cpu_count()} cores)",
        ["board", "state", "queries", "p50", "p95", "max"],
        rows,
    )


def _time(work) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


if __name__ == "__main__":
    main()
