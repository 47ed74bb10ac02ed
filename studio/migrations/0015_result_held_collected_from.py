"""Collecting a paid result becomes a recorded fact: Job.result_held (the provider-side job may
still hold this failed job's paid result) and Job.collected_from (the job whose result this one
collects). Existing failures get result_held by the rule that decided "Collect result" until now.

On SQLite both columns are added and dropped with ALTER TABLE: Django would add a NOT NULL column,
and drop a foreign key, by rebuilding the table, which the gallery's full-text triggers on
studio_job forbid (gallery.0003)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q

# The rule studio.jobs.job_collects applied before this migration, frozen here.
MAY_STILL_HOLD = ("timeout", "unavailable", "rate_limited", "internal")
PROVIDER_STOPPED = "The provider stopped this job before it finished."
RESUMABLE_PROVIDERS = ("replicate", "stability", "midjourney")


class AddJobColumn(migrations.AddField):
    """AddField that never rebuilds the table on SQLite."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        if schema_editor.connection.vendor != "sqlite" or field.null:  # Django adds a nullable one with ALTER TABLE
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        # NOT NULL: the default stays in the database, which fills the rows there.
        definition, params = schema_editor.column_sql(model, field, include_default=False)
        definition += f" DEFAULT {schema_editor.quote_value(schema_editor.effective_default(field))}"
        qn = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {qn(model._meta.db_table)} ADD COLUMN {qn(field.column)} {definition}", params)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "sqlite":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        table, qn = model._meta.db_table, schema_editor.quote_name
        with schema_editor.connection.cursor() as cursor:
            constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
        for name, info in constraints.items():
            if info["index"] and info["columns"] == [field.column]:
                schema_editor.execute(f"DROP INDEX {qn(name)}")
        schema_editor.execute(f"ALTER TABLE {qn(table)} DROP COLUMN {qn(field.column)}")


def held_by_the_old_rule(apps, schema_editor):
    from studio import catalog

    Job = apps.get_model("studio", "Job")
    resumable = [m.id for m in catalog.MODELS.values() if m.provider in RESUMABLE_PROVIDERS]
    Job.objects.filter(
        Q(status="failed", error_kind__in=MAY_STILL_HOLD, model_id__in=resumable)
        & ~Q(provider_job_id="")
        & ~Q(error_message__startswith=PROVIDER_STOPPED)
    ).update(result_held=True)


class Migration(migrations.Migration):
    dependencies = [("studio", "0014_params_drop_stability_options")]

    operations = [
        AddJobColumn(model_name="job", name="result_held", field=models.BooleanField(default=False)),
        AddJobColumn(
            model_name="job",
            name="collected_from",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="collections",
                to="studio.job",
            ),
        ),
        migrations.RunPython(held_by_the_old_rule, migrations.RunPython.noop),
    ]
