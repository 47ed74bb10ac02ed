"""Jobs remember the worker process running them (for the recovery sweep, which every worker runs
itself, so the once-a-minute reaper schedule goes)."""

from django.conf import settings
from django.db import migrations, models

REAPER = "studio.tasks.reap_stuck_jobs"


def remove_reaper(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=REAPER).delete()


def add_reaper(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        func=REAPER, defaults={"name": "reap stuck jobs", "schedule_type": "I", "minutes": 1, "repeats": -1}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0004_tags_remember_who_added_them"),
        ("studio", "0010_arena"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="worker",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["status", "queued_at"], name="studio_job_status_775ac5_idx"),
        ),
        migrations.RunPython(remove_reaper, add_reaper),
    ]
