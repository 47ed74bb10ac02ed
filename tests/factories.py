"""Plain factory functions for rows the tests need."""

from __future__ import annotations

import io
import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from gallery.models import Image
from studio import specs
from studio.catalog import Size
from studio.models import Job
from studio.specs import ImageRequest

_counter = itertools.count(1)


def make_user(**overrides: Any):
    n = next(_counter)
    fields = {"username": f"user{n}", "password": "pw-for-tests-only"}
    fields.update(overrides)
    return get_user_model().objects.create_user(**fields)


def make_job(owner=None, **overrides: Any) -> Job:
    fields: dict[str, Any] = {
        "owner": owner or make_user(),
        "operation": "generate",
        "model_id": "offline",
        "prompt": "a lighthouse at dusk",
        "params": {
            "width": 64,
            "height": 64,
            "aspect_ratio": "1:1",
            "quality": "draft",
            "n": 1,
            "seed": 7,
            "options": {},
            "version": 2,
        },
    }
    fields.update(overrides)
    return Job.objects.create(**fields)


def png_bytes(width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 100, 50)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def make_image(job: Job | None = None, *, with_files: bool = True, **overrides: Any) -> Image:
    job = job or make_job(status=Job.Status.SUCCEEDED)
    n = next(_counter)
    file_name, thumb_name = f"images/t/{n}.png", f"thumbs/t/{n}.webp"
    if with_files:
        file_name = default_storage.save(file_name, ContentFile(png_bytes()))
        thumb_name = default_storage.save(thumb_name, ContentFile(b"RIFF....WEBP"))
    fields: dict[str, Any] = {
        "job": job,
        "owner_id": job.owner_id,
        "file": file_name,
        "thumbnail": thumb_name,
        "width": 64,
        "height": 64,
        "seed": 7,
        "content_hash": "0" * 64,
    }
    fields.update(overrides)
    return Image.objects.create(**fields)


def make_request(
    model_id: str,
    operation: str = "generate",
    *,
    source: bytes | None = None,
    mask: bytes | None = None,
    references: tuple[bytes, ...] = (),
    **fields: Any,
) -> ImageRequest:
    """A validated request for a provider test, its input images written to storage as the editor
    would. The model need not be configured (`available=False`); `fields` go to specs.build."""
    names = {
        "source": default_storage.save("inputs/t/source.png", ContentFile(source)) if source else "",
        "mask": default_storage.save("masks/t/mask.png", ContentFile(mask)) if mask else "",
        "references": tuple(default_storage.save("inputs/t/ref.png", ContentFile(r)) for r in references),
    }
    if source and "size" not in fields and operation != "upscale":
        with PILImage.open(io.BytesIO(source)) as img:
            fields["size"] = Size.of(*img.size)
    return specs.build(model=model_id, operation=operation, inputs=specs.Inputs(**names), available=False, **fields)
