"""Schedule studio.tasks.reap_stuck_jobs every minute, so no job stays running forever."""

from django.db import migrations

REAPER = "studio.tasks.reap_stuck_jobs"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        func=REAPER, defaults={"name": "reap stuck jobs", "schedule_type": "I", "minutes": 1, "repeats": -1}
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=REAPER).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
