"""Post-processing (validate, thumbnail, metadata, save) vs a bare Pillow decode + PNG encode.

Target (issue 3): post-processing <= 2x the bare decode+encode of the same 1024x1024 image.
Also times the offline renderer (target: under 300 ms for 1024x1024).
"""

from __future__ import annotations

import io
import time

from harness import print_table, setup_django, summary

ROUNDS = 30


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
        for compress_level, kind in ((1, "fast PNG"), (6, "default PNG")):
            buffer = io.BytesIO()
            img.save(buffer, "PNG", compress_level=compress_level)
            data = buffer.getvalue()

            def bare(data=data):
                out = io.BytesIO()
                Image.open(io.BytesIO(data)).save(out, "PNG")

            def pipeline(data=data):
                processed = imaging.process(data, metadata)
                names = [
                    default_storage.save("bench/i.png", ContentFile(processed.data)),
                    default_storage.save("bench/t.webp", ContentFile(processed.thumbnail)),
                ]
                for name in names:
                    default_storage.delete(name)

            b, p = summary(timed(bare)), summary(timed(pipeline))
            rows.append(
                [f"{label}, {kind}", len(data) // 1024, b["p50"], p["p50"], p["p50"] / b["p50"], p["p95"] / b["p95"]]
            )
    print_table(
        "Post-processing of a 1024x1024 image (ms; ratio = pipeline / bare decode+encode)",
        ["input", "KiB", "bare p50", "pipeline p50", "ratio p50", "ratio p95"],
        rows,
    )

    render_rows = []
    for quality in ("draft", "standard", "high"):
        s = summary(timed(lambda q=quality: offline._png(offline.render(metadata["prompt"], "", 1024, 1024, 1, q))))
        render_rows.append([quality, s["p50"], s["p95"], s["max"]])
    print_table("Offline renderer, 1024x1024 render + PNG encode (ms)", ["quality", "p50", "p95", "max"], render_rows)


if __name__ == "__main__":
    main()
