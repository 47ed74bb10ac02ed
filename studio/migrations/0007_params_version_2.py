"""Job.params in the typed request's format (version 2): edit settings under "edit", Midjourney
follow-ups under "followup" instead of among the model's options."""

from django.db import migrations

EDIT_KEYS = ("strength", "factor", "extend", "search_prompt", "control_kind", "control_strength", "fidelity")
FOLLOWUP_KEYS = {"mj_task": "task_id", "mj_action": "action", "mj_buttons": "buttons"}


def to_v2(params: dict) -> dict:
    if params.get("version") == 2:
        return params
    params = dict(params)
    options = dict(params.get("options") or {})
    edit = {key: params.pop(key) for key in EDIT_KEYS if params.get(key) not in (None, "")}
    for key in EDIT_KEYS:
        params.pop(key, None)
    if edit:
        params["edit"] = edit
    if "mj_task" in options:
        params["followup"] = {new: options.pop(old, None if old != "mj_buttons" else []) for old, new in FOLLOWUP_KEYS.items()}
    params["options"] = options
    params["version"] = 2
    return params


def to_v1(params: dict) -> dict:
    if params.get("version") != 2:
        return params
    params = dict(params)
    params.pop("version")
    params.update(params.pop("edit", {}))
    followup = params.pop("followup", None)
    if followup:
        options = dict(params.get("options") or {})
        options.update({old: followup.get(new) for old, new in FOLLOWUP_KEYS.items()})
        params["options"] = options
    return params


def convert(convert_params):
    def run(apps, schema_editor):
        Job = apps.get_model("studio", "Job")
        for job in Job.objects.only("pk", "params").iterator(chunk_size=500):
            converted = convert_params(job.params or {})
            if converted != job.params:
                Job.objects.filter(pk=job.pk).update(params=converted)

    return run


class Migration(migrations.Migration):
    dependencies = [("studio", "0006_progress")]

    operations = [migrations.RunPython(convert(to_v2), convert(to_v1))]
