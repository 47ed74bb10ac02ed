"""Post-processing (validate, thumbnail, metadata, save) vs a bare Pillow decode + encode in the
same format (PNG, JPEG, WebP).

Target (issue 3): post-processing <= 2x the bare decode+encode of the same 1024x1024 image.
Also times the offline renderer (target: under 300 ms for 1024x1024).
"""

from __future__ import annotations

import io
import time

from harness import print_table, setup_django, summary

ROUNDS = 30
# How providers deliver images; JPEG and WebP get the settings as EXIF UserComment (piexif).
ENCODINGS = (
    ("fast PNG", "PNG", {"compress_level": 1}),
    ("default PNG", "PNG", {"compress_level": 6}),
    ("JPEG q90", "JPEG", {"quality": 90}),
    ("WebP q80", "WEBP", {"quality": 80}),
)


def timed(fn, rounds: int = ROUNDS) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    setup_django()
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image

    from studio import imaging
    from studio.providers import offline

    metadata = {
        "model": "offline",
        "prompt": "a lighthouse on a cliff at sunset",
        "seed": 1,
        "width": 1024,
        "height": 1024,
    }
    rows = []
    for label, quality in (("offline standard", "standard"), ("offline high (grain)", "high")):
        img = offline.render(metadata["prompt"], "", 1024, 1024, 1, quality)
        for kind, fmt, options in ENCODINGS:
            buffer = io.BytesIO()
            img.save(buffer, fmt, **options)
            data = buffer.getvalue()

            def bare(data=data, fmt=fmt):
                out = io.BytesIO()
                Image.open(io.BytesIO(data)).save(out, fmt)

            def pipeline(data=data):
                processed = imaging.process(data, metadata)
                names = [
                    default_storage.save(f"bench/i.{processed.extension}", ContentFile(processed.data)),
                    default_storage.save("bench/t.webp", ContentFile(processed.thumbnail)),
                ]
                for name in names:
                    default_storage.delete(name)

            b, p = summary(timed(bare)), summary(timed(pipeline))
            rows.append(
                [f"{label}, {kind}", len(data) // 1024, b["p50"], p["p50"], p["p50"] / b["p50"], p["p95"] / b["p95"]]
            )
    print_table(
        "Post-processing of a 1024x1024 image (ms; ratio = pipeline / bare decode+encode, same format)",
        ["input", "KiB", "bare p50", "pipeline p50", "ratio p50", "ratio p95"],
        rows,
    )

    print_table(
        "Settings into a 16-megapixel noise image (EXIF UserComment; ms, MiB)",
        ["format", "file MiB", "embed p50", "embed p95", "peak MiB", "peak / file"],
        embed_rows(),
    )

    render_rows = []
    for quality in ("draft", "standard", "high"):
        s = summary(timed(lambda q=quality: offline._png(offline.render(metadata["prompt"], "", 1024, 1024, 1, q))))
        render_rows.append([quality, s["p50"], s["p95"], s["max"]])
    print_table("Offline renderer, 1024x1024 render + PNG encode (ms)", ["quality", "p50", "p95", "max"], render_rows)


def embed_rows() -> list[list]:
    """The splice alone (piexif, as A1111 writes it) on a large file: its time and its peak memory,
    which grows with the compressed file, never with the pixels (nothing is decoded)."""
    import tracemalloc

    import numpy as np
    from PIL import Image

    from studio.metadata import writer

    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (4096, 4096, 3), dtype=np.uint8))
    settings = {"model": "offline", "prompt": "a lighthouse", "seed": 1, "width": 4096, "height": 4096}
    rows = []
    for fmt in ("JPEG", "WEBP"):
        buffer = io.BytesIO()
        noise.save(buffer, fmt, quality=90)
        data = buffer.getvalue()
        times = summary(timed(lambda data=data, fmt=fmt: writer.embed(data, fmt.lower(), settings), rounds=10))
        tracemalloc.start()
        writer.embed(data, fmt.lower(), settings)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        size = len(data) / 2**20
        rows.append([fmt, size, times["p50"], times["p95"], peak / 2**20, peak / len(data)])
    return rows


if __name__ == "__main__":
    main()
