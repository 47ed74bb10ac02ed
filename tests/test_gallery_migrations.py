"""Data migrations in the gallery keep the rows they reshape."""

import pytest

from tests.migrating import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("gallery", "0003_search_index"), ("gallery", "0004_tags_remember_who_added_them")


def test_existing_tags_are_kept_and_attributed_to_the_images_owner():
    apps = migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Job, Image, Tag = (apps.get_model(*name.split(".")) for name in ("studio.Job", "gallery.Image", "gallery.Tag"))
    owner = User.objects.create(username="owner")
    job = Job.objects.create(owner=owner, operation="generate", model_id="offline", prompt="p", params={})
    image = Image.objects.create(job=job, owner=owner, width=1, height=1, content_hash="0")
    sky, sea = Tag.objects.create(name="sky"), Tag.objects.create(name="sea")
    image.tags.add(sky, sea)  # before the migration, nobody was recorded as having added them

    apps = migrate(AFTER)
    ImageTag = apps.get_model("gallery", "ImageTag")
    rows = list(ImageTag.objects.order_by("tag__name").values_list("tag__name", "image_id", "added_by__username"))
    assert rows == [("sea", image.pk, "owner"), ("sky", image.pk, "owner")]

    apps = migrate(BEFORE)  # and back: the rows survive the reverse too
    assert apps.get_model("gallery", "Image").objects.get().tags.count() == 2


@pytest.fixture(autouse=True)
def latest_schema_afterwards():
    yield
    migrate_to_latest()
