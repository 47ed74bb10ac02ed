"""Jobs without the settings their operation's endpoint never took, so Retry can run old Stability jobs.

Before 6ae2f71 every Stability option applied to every operation, and `build` stored each one's
default: SDXL's cfg_scale, steps, sampler and style_preset on its ESRGAN upscales, Stable Image
Core's style_preset on erases and fast upscales. Validation now refuses them per operation ("has no
option “steps” for upscale"), and refuses a negative prompt where the endpoint has no field for it
(SDXL's upscale; Core's outpaint, erase and fast upscale), and counts past what one request of the
operation makes (SDXL's upscale and the offline renderer's make one image; rows hold up to 10 and 4).

The old provider never sent these options, nor the negative prompt of an ESRGAN upscale, an erase or
a fast upscale. It did put a Core outpaint's negative prompt in the request, where the outpaint
endpoint has no such field; only an outpaint whose mask also covered the picture went as an inpaint,
which reads it. Today's provider sends none for an outpaint, so the retry is what it would send.

The table is frozen here, as the catalog stood when these settings stopped applying: a data
migration must give the same result whatever the catalog later becomes. Going back leaves the rows
as they are: the older code reads them too.
"""

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import migrations
from django.db.models import Q


@dataclass(frozen=True)
class Refused:
    """What one operation of a model no longer takes."""

    options: frozenset[str] = frozenset()
    negative_prompt: bool = False  # True: the endpoint takes none, so it is cleared
    max_n: int | None = None  # the most images one request makes; larger counts are lowered to it


SDXL_DIFFUSION = frozenset({"cfg_scale", "steps", "sampler", "style_preset"})
# (model id, operation) -> what it refuses.
REFUSED: dict[tuple[str, str], Refused] = {
    ("sdxl-1.0", "upscale"): Refused(SDXL_DIFFUSION, negative_prompt=True, max_n=1),
    ("stable-image-core", "erase"): Refused(frozenset({"style_preset"}), negative_prompt=True),
    ("stable-image-core", "upscale"): Refused(frozenset({"style_preset"}), negative_prompt=True),
    ("stable-image-core", "outpaint"): Refused(negative_prompt=True),
    **{(model, "upscale"): Refused(max_n=1) for model in ("offline", "offline-watercolor", "offline-mosaic")},
}


def without_refused(model_id: str, operation: str, params: object, negative_prompt: str) -> tuple[object, str]:
    """The params and negative prompt without what the operation refuses; a row whose params are
    not a version-2 dict is left as it is, and a key it lacks is not added."""
    refused = REFUSED.get((model_id, operation))
    if refused is None or not isinstance(params, dict) or params.get("version") != 2:
        return params, negative_prompt
    options, n = params.get("options"), params.get("n")
    if isinstance(options, dict) and refused.options & options.keys():
        params = {**params, "options": {k: v for k, v in options.items() if k not in refused.options}}
    if refused.max_n is not None and type(n) is int and n > refused.max_n:
        params = {**params, "n": refused.max_n}
    return params, "" if refused.negative_prompt else negative_prompt


def drop_refused(apps, schema_editor):
    Job = apps.get_model("studio", "Job")
    pairs = reduce(or_, (Q(model_id=model, operation=operation) for model, operation in REFUSED))
    rows = Job.objects.filter(pairs).only("pk", "model_id", "operation", "params", "negative_prompt")
    for job in rows.iterator(chunk_size=500):
        params, negative_prompt = without_refused(job.model_id, job.operation, job.params, job.negative_prompt)
        if params is not job.params or negative_prompt != job.negative_prompt:
            Job.objects.filter(pk=job.pk).update(params=params, negative_prompt=negative_prompt)


class Migration(migrations.Migration):
    dependencies = [("studio", "0013_size_aspect_not_label")]

    operations = [migrations.RunPython(drop_refused, migrations.RunPython.noop)]
