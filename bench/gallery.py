"""Gallery page server time and SQL query count at 1k and 100k images (seeded rows).

Target (issue 3): a fixed number of queries (<= 5) on every page, and p95 at 100k <= 1.3x p95 at 1k.
Server time is measured in-process through Django's test client: middleware, query, template.
"""

from __future__ import annotations

import time

from harness import print_table, setup_django, summary

REQUESTS = 150
SIZES = (1_000, 100_000)
IMAGES_PER_JOB = 4


def seed(owners, target: int) -> None:
    from django.db import transaction

    from gallery.models import Favourite, Image
    from studio.models import Job

    have = Image.objects.count()
    params = {"width": 1024, "height": 1024, "quality": "standard", "n": IMAGES_PER_JOB, "options": {}}
    jobs = [
        Job(
            owner=owners[i % len(owners)],
            operation="generate",
            model_id=("offline", "dall-e-3", "sdxl-1.0")[i % 3],
            prompt=f"bench prompt {i}",
            status="succeeded",
            params={**params, "seed": i},
        )
        for i in range(have // IMAGES_PER_JOB, target // IMAGES_PER_JOB)
    ]
    with transaction.atomic():
        Job.objects.bulk_create(jobs, batch_size=2000)
        images = [
            Image(
                job=job,
                owner_id=job.owner_id,
                index=k,
                file=f"images/x/{job.pk}-{k}.png",
                thumbnail=f"thumbs/x/{job.pk}-{k}.webp",
                width=1024,
                height=1024,
                seed=k,
                content_hash="0" * 64,
            )
            for job in jobs
            for k in range(IMAGES_PER_JOB)
        ]
        Image.objects.bulk_create(images, batch_size=2000)
        Favourite.objects.bulk_create(
            [Favourite(user=owners[0], image=image) for image in images[::50]], batch_size=2000
        )


def measure(client, params: dict) -> tuple[dict, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/gallery/", params)  # warm-up
    samples = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get("/gallery/", params)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get("/gallery/", params)
    return summary(samples), len(queries)


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from gallery.models import Image

    User = get_user_model()
    owners = [User.objects.create_user(f"user{i}") for i in range(5)]
    client = Client(HTTP_HOST="localhost")
    client.force_login(owners[0])
    rows, p95 = [], {}
    for size in SIZES:
        started = time.perf_counter()
        seed(owners, size)
        seeded = time.perf_counter() - started
        middle = Image.objects.order_by("-created_at", "-id")[size // 2]
        from gallery.selectors import encode_cursor

        cases = {
            "first page": {},
            "deep page (middle)": {"cursor": encode_cursor(middle)},
            "filter: mine + model": {"scope": "mine", "model": "offline"},
        }
        for name, params in cases.items():
            stats, queries = measure(client, params)
            p95[(size, name)] = stats["p95"]
            rows.append([f"{size:,}", name, queries, stats["p50"], stats["p95"]])
        print(f"seeded {size:,} images in {seeded:.1f}s")
    print_table("Gallery page, SQLite (ms of server time)", ["images", "page", "queries", "p50", "p95"], rows)
    ratio_rows = [
        [name, p95[(SIZES[1], name)] / p95[(SIZES[0], name)]]
        for name in ("first page", "deep page (middle)", "filter: mine + model")
    ]
    print_table("p95 at 100k / p95 at 1k (target <= 1.3)", ["page", "ratio"], ratio_rows)


if __name__ == "__main__":
    main()
