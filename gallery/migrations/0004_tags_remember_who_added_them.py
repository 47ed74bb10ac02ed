"""Tags on images remember who added them, so that person, the image's owner or staff may take them
off. The plain many-to-many table becomes the ImageTag model with its rows kept; the tags already
there are attributed to the image's owner."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def attribute_to_owners(apps, schema_editor):
    ImageTag = apps.get_model("gallery", "ImageTag")
    Image = apps.get_model("gallery", "Image")
    owner = Image.objects.filter(pk=OuterRef("image_id")).values("owner_id")[:1]
    ImageTag.objects.filter(added_by__isnull=True).update(added_by_id=Subquery(owner))


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0003_search_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The model that describes the existing table exactly (same name, columns and unique pair);
        # nothing changes in the database.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ImageTag",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("image", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="gallery.image")),
                        ("tag", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="gallery.tag")),
                    ],
                    options={"db_table": "gallery_image_tags", "unique_together": {("image", "tag")}},
                ),
                migrations.AlterField(
                    model_name="image",
                    name="tags",
                    field=models.ManyToManyField(blank=True, related_name="images", through="gallery.ImageTag", to="gallery.tag"),
                ),
            ],
        ),
        migrations.AddField(
            model_name="imagetag",
            name="added_by",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="imagetag",
            name="added_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AlterUniqueTogether(name="imagetag", unique_together=set()),
        migrations.AddConstraint(
            model_name="imagetag",
            constraint=models.UniqueConstraint(fields=("image", "tag"), name="tag_once_per_image"),
        ),
        migrations.RunPython(attribute_to_owners, migrations.RunPython.noop),
    ]
