"""Job.params["aspect_ratio"] holds a ratio only: the 3840×2160 preset was stored as "16:9 4K" (its
name), now "16:9" (the name lives on the catalog's Size). The codec reads old rows either way."""

from django.db import migrations

# Preset names that were stored in aspect_ratio, and the ratio each stands for.
NAMED = {"16:9 4K": "16:9"}


def to_ratio(params: dict) -> dict:
    if not isinstance(params, dict) or params.get("aspect_ratio") not in NAMED:
        return params
    return {**params, "aspect_ratio": NAMED[params["aspect_ratio"]]}


def forwards(apps, schema_editor):
    Job = apps.get_model("studio", "Job")
    for name in NAMED:
        for job in Job.objects.filter(params__aspect_ratio=name).only("pk", "params").iterator(chunk_size=500):
            Job.objects.filter(pk=job.pk).update(params=to_ratio(job.params))


class Migration(migrations.Migration):
    dependencies = [("studio", "0012_params_drop_inapplicable_options")]

    # Backwards there is nothing to undo: the older code reads "16:9" as well.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
