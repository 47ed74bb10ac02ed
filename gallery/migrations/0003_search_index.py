"""Full-text search over prompts: an FTS5 table on SQLite, a GIN index on PostgreSQL.

On SQLite the FTS table is keyed by image id and kept in step by triggers, so every way rows
are written (ORM, bulk_create, raw SQL) is indexed. Job prompts never change after creation."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE gallery_image_fts USING fts5(prompt, revised_prompt, tokenize='unicode61 remove_diacritics 2')",
    """CREATE TRIGGER gallery_image_fts_insert AFTER INSERT ON gallery_image BEGIN
         INSERT INTO gallery_image_fts(rowid, prompt, revised_prompt)
         VALUES (new.id, (SELECT prompt FROM studio_job WHERE id = new.job_id), new.revised_prompt);
       END""",
    """CREATE TRIGGER gallery_image_fts_delete AFTER DELETE ON gallery_image BEGIN
         DELETE FROM gallery_image_fts WHERE rowid = old.id;
       END""",
    """INSERT INTO gallery_image_fts(rowid, prompt, revised_prompt)
       SELECT i.id, j.prompt, i.revised_prompt FROM gallery_image i JOIN studio_job j ON j.id = i.job_id""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER gallery_image_fts_delete",
    "DROP TRIGGER gallery_image_fts_insert",
    "DROP TABLE gallery_image_fts",
]
POSTGRES = ["CREATE INDEX studio_job_prompt_search ON studio_job USING gin (to_tsvector('english', prompt))"]
POSTGRES_REVERSE = ["DROP INDEX studio_job_prompt_search"]


def run(statements_by_vendor):
    def apply(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0002_boards_tags"),
        ("studio", "0005_budget"),
    ]
    operations = [
        migrations.RunPython(
            run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        )
    ]
