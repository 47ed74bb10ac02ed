"""Gallery page server time and SQL query count at 1k and 100k images (seeded rows).

Targets: a fixed number of queries (<= 5) on every page; p95 at 100k <= 1.3x p95 at 1k (issue 3);
search and filtered pages p95 <= 50 ms at 100k (issue 6).
Server time is measured in-process through Django's test client: middleware, query, template.
"""

from __future__ import annotations

import time

from harness import print_table, setup_django, summary

REQUESTS = 150
WORDS = ("sunset", "harbor", "forest", "portrait", "city", "ocean", "mountain", "garden", "robot", "castle", "desert")
SIZES = (1_000, 100_000)
IMAGES_PER_JOB = 4


def seed(owners, target: int) -> None:
    from django.db import transaction

    from gallery.models import Board, BoardImage, Favourite, Image, Tag
    from studio.models import Job

    have = Image.objects.count()
    params = {"width": 1024, "height": 1024, "quality": "standard", "n": IMAGES_PER_JOB, "options": {}}
    jobs = [
        Job(
            owner=owners[i % len(owners)],
            model_id=("offline", "dall-e-3", "sdxl-1.0")[i % 3],
            prompt=f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} number {i}"
            + (" lighthouse" if i % 10 == 0 else "")
            + (" zeppelin" if i % 1000 == 0 else ""),
            operation="edit" if i % 20 == 0 else "generate",
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
        favourites = images[::50]
        Favourite.objects.bulk_create([Favourite(user=owners[0], image=image) for image in favourites], batch_size=2000)
        Image.objects.filter(pk__in=[i.pk for i in favourites]).update(favourite_count=1)
        board, _ = Board.objects.get_or_create(name="bench board")
        BoardImage.objects.bulk_create(
            [BoardImage(board=board, image=image) for image in images[::20]], batch_size=2000
        )
        tag, _ = Tag.objects.get_or_create(name="bench")
        Image.tags.through.objects.bulk_create(
            [Image.tags.through(image=image, tag=tag) for image in images[::20]], batch_size=2000
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
        from gallery.models import Board
        from gallery.selectors import encode_cursor

        board = Board.objects.get(name="bench board")
        cases = {
            "first page": {},
            "deep page (middle)": {"cursor": encode_cursor(middle)},
            "filter: mine + model": {"scope": "mine", "model": "offline"},
            "search: common word (10%)": {"q": "lighthouse"},
            "search: two words": {"q": "harbor forest"},
            "search: rare word (0.1%)": {"q": "zeppelin"},
            "filter: board": {"board": board.pk},
            "filter: tag": {"tag": "bench"},
            "filter: user + operation": {"user": "user1", "operation": "edit"},
            "filter: date range": {"from": "2020-01-01", "to": "2099-12-31"},
            "sort: most favourited": {"sort": "favourites"},
        }
        for name, params in cases.items():
            stats, queries = measure(client, params)
            p95[(size, name)] = stats["p95"]
            rows.append([f"{size:,}", name, queries, stats["p50"], stats["p95"]])
        print(f"seeded {size:,} images in {seeded:.1f}s")
    print_table("Gallery page, SQLite (ms of server time)", ["images", "page", "queries", "p50", "p95"], rows)
    ratio_rows = [[name, p95[(SIZES[1], name)] / p95[(SIZES[0], name)], p95[(SIZES[1], name)]] for name in cases]
    print_table(
        "At 100k images: p95 ratio to 1k (target <= 1.3) and p95 ms (target <= 50)",
        ["page", "ratio", "p95 ms"],
        ratio_rows,
    )


if __name__ == "__main__":
    main()
