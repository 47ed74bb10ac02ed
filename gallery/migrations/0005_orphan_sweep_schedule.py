"""Schedule gallery.orphans.sweep_orphan_files every hour: media files no row points to are deleted."""

from django.db import migrations

SWEEP = "gallery.orphans.sweep_orphan_files"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        func=SWEEP, defaults={"name": "sweep orphan media files", "schedule_type": "I", "minutes": 60, "repeats": -1}
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=SWEEP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0004_tags_remember_who_added_them"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
