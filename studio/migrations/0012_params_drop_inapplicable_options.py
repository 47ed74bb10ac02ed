"""Job.params without options the job's model never sends for its operation, so Retry can run them.

Version 1 rows stored every option a model had, whatever the operation: GPT Image edits recorded
`moderation` (images.edit takes none), and FLUX1.1 [pro] ultra rows recorded `output_quality` and
`prompt_upsampling` (its schema has neither). 0007 kept those options, and today's validation
refuses them ("has no option “moderation” for edit"), so such jobs could not be retried.

The table is frozen here, as the catalog stood when these options stopped applying: a data
migration must give the same result whatever the catalog later becomes. Nothing is lost that was
ever sent, so going back leaves the rows as they are.
"""

from django.db import migrations

GPT_IMAGE = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2")
EDITS = ("edit", "instruct")
ANY_OPERATION = "*"
# (model id, operation or "*") -> options to drop.
DROP: dict[tuple[str, str], frozenset[str]] = {
    **{(model, operation): frozenset({"moderation"}) for model in GPT_IMAGE for operation in EDITS},
    ("flux-1.1-pro-ultra", ANY_OPERATION): frozenset({"output_quality", "prompt_upsampling"}),
}


def to_drop(model_id: str, operation: str) -> frozenset[str]:
    return DROP.get((model_id, operation), frozenset()) | DROP.get((model_id, ANY_OPERATION), frozenset())


def without_inapplicable(model_id: str, operation: str, params: object) -> object:
    """The params without the options that do not apply; anything not a version-2 dict as it is."""
    if not isinstance(params, dict) or params.get("version") != 2 or not isinstance(params.get("options"), dict):
        return params
    drop = to_drop(model_id, operation)
    if not drop & params["options"].keys():
        return params
    return {**params, "options": {k: v for k, v in params["options"].items() if k not in drop}}


def drop_inapplicable(apps, schema_editor):
    Job = apps.get_model("studio", "Job")
    models = {model for model, _ in DROP}
    rows = Job.objects.filter(model_id__in=models).only("pk", "model_id", "operation", "params")
    for job in rows.iterator(chunk_size=500):
        cleaned = without_inapplicable(job.model_id, job.operation, job.params)
        if cleaned is not job.params:
            Job.objects.filter(pk=job.pk).update(params=cleaned)


class Migration(migrations.Migration):
    dependencies = [("studio", "0011_recovery")]

    operations = [migrations.RunPython(drop_inapplicable, migrations.RunPython.noop)]
