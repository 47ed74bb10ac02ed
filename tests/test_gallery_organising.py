"""Boards, tags, search, filters, sorts and bulk actions in the team gallery."""

import io
import tracemalloc
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from gallery import selectors, services
from gallery.models import Board, Image, Tag
from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db


def ids(client, **params):
    return [i.pk for i in client.get(reverse("gallery:grid"), params).context["page"].images]


def test_boards_are_shared_and_their_names_unique(alice, client_for, user, other_user):
    response = alice.post(reverse("gallery:board_create"), {"name": "Spring  campaign"})
    board = Board.objects.get()
    assert board.name == "Spring campaign" and response["Location"].endswith(f"?board={board.pk}")
    again = client_for(other_user).post(reverse("gallery:board_create"), {"name": "spring CAMPAIGN"})
    assert again.status_code == 422 and "already a board called" in again.content.decode()
    assert Board.objects.count() == 1
    assert "Spring campaign" in alice.get(reverse("gallery:boards")).content.decode()


def test_add_to_a_board_from_the_detail_page_and_filter_by_it(alice, user, other_user):
    mine, theirs = make_image(make_job(owner=user)), make_image(make_job(owner=other_user))
    alice.post(reverse("gallery:image_boards", args=[theirs.pk]), {"new_board": "Moodboard"})
    board = Board.objects.get(name="Moodboard")
    assert ids(alice, board=board.pk) == [theirs.pk]
    alice.post(reverse("gallery:image_boards", args=[mine.pk]), {"board": board.pk})
    assert set(ids(alice, board=board.pk)) == {mine.pk, theirs.pk}
    alice.post(reverse("gallery:image_boards", args=[mine.pk]), {"remove": board.pk})
    assert ids(alice, board=board.pk) == [theirs.pk]
    response = alice.post(reverse("gallery:image_boards", args=[mine.pk]), {}, follow=True)
    assert "Pick a board, or name a new one." in response.content.decode()


def test_tags_are_normalised_validated_and_filterable(alice, user):
    image = make_image(make_job(owner=user))
    alice.post(reverse("gallery:tags", args=[image.pk]), {"tag": "  Concept   Art "})
    assert list(image.tags.values_list("name", flat=True)) == ["concept art"]
    assert ids(alice, tag="concept art") == [image.pk]
    response = alice.post(reverse("gallery:tags", args=[image.pk]), {"tag": "<script>"}, follow=True)
    assert "A tag is 1–40 letters" in response.content.decode() and Tag.objects.count() == 1
    alice.post(reverse("gallery:tags", args=[image.pk]), {"remove": "concept art"})
    assert not image.tags.exists()


def test_search_matches_all_words_with_a_prefix_and_survives_odd_input(alice, user):
    whale = make_image(make_job(owner=user, prompt="A blue whale under the northern lights"))
    make_image(make_job(owner=user, prompt="a blue car"))
    revised = make_image(make_job(owner=user, prompt="x"), revised_prompt="An orca breaching")
    assert ids(alice, q="blue whale") == [whale.pk]
    assert ids(alice, q="north") == [whale.pk]  # prefix of the last word
    assert ids(alice, q="orca") == [revised.pk]  # revised prompts are searched too
    # FTS syntax in the box is never passed through raw: it is quoted as plain words.
    assert alice.get(reverse("gallery:grid"), {"q": '" OR ) NEAR('}).status_code == 200
    assert ids(alice, q="blue (whale") == [whale.pk]
    assert selectors.fts_query('blue "wha') == '"blue" "wha"*'


def test_filters_by_user_operation_and_dates(alice, user, other_user):
    mine = make_image(make_job(owner=user, operation="edit"))
    theirs = make_image(make_job(owner=other_user))
    Image.objects.filter(pk=theirs.pk).update(created_at="2026-01-15T12:00Z")
    assert ids(alice, user="bob") == [theirs.pk]
    assert ids(alice, operation="edit") == [mine.pk]
    assert ids(alice, **{"from": "2026-01-01", "to": "2026-01-31"}) == [theirs.pk]
    response = alice.get(reverse("gallery:grid"), {"from": "last week"})
    assert "Ignored the from date" in response.content.decode()


def test_sorts_page_through_every_image_once(alice, user, other_user):
    images = [make_image(make_job(owner=user), with_files=False) for _ in range(60)]
    for image in images[10:13]:
        services.favourite_toggle(user=other_user, image=image)
    services.favourite_toggle(user=user, image=images[11])
    for sort in ("newest", "oldest", "favourites"):
        seen, cursor = [], ""
        while True:
            page = alice.get(reverse("gallery:grid"), {"sort": sort, **({"cursor": cursor} if cursor else {})}).context[
                "page"
            ]
            seen += [i.pk for i in page.images]
            if not (cursor := page.next_cursor):
                break
        assert sorted(seen) == sorted(i.pk for i in images) and len(seen) == 60, sort
        if sort == "oldest":
            assert seen[0] == images[0].pk
        if sort == "favourites":
            assert seen[0] == images[11].pk and set(seen[1:3]) == {images[10].pk, images[12].pk}


def test_favourite_count_follows_toggles(user, other_user):
    image = make_image(make_job(owner=user))
    services.favourite_toggle(user=user, image=image)
    services.favourite_toggle(user=other_user, image=image)
    services.favourite_toggle(user=user, image=image)
    image.refresh_from_db()
    assert image.favourite_count == 1


def bulk(client, action, images, **extra):
    return client.post(reverse("gallery:bulk"), {"action": action, "ids": [i.pk for i in images], **extra})


def test_bulk_add_to_board_and_tag(alice, user):
    images = [make_image(make_job(owner=user)) for _ in range(3)]
    bulk(alice, "board", images, new_board="Picks")
    assert Board.objects.get(name="Picks").images.count() == 3
    bulk(alice, "tag", images[:2], tag="hero")
    assert set(ids(alice, tag="hero")) == {images[0].pk, images[1].pk}
    response = bulk(alice, "tag", [], tag="x")
    assert response.status_code == 302


def test_bulk_delete_removes_only_your_own(alice, user, other_user, django_capture_on_commit_callbacks):
    mine, theirs = make_image(make_job(owner=user)), make_image(make_job(owner=other_user))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(reverse("gallery:bulk"), {"action": "delete", "ids": [mine.pk, theirs.pk]}, follow=True)
    assert "Deleted 1 image. Kept 1 made by others" in response.content.decode()
    assert list(Image.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert not default_storage.exists(mine.file) and default_storage.exists(theirs.file)


def test_bulk_zip_contains_the_originals(alice, user):
    images = [make_image(make_job(owner=user)) for _ in range(3)]
    response = bulk(alice, "zip", images)
    assert response["Content-Type"] == "application/zip" and response.streaming
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == sorted(i.filename for i in images)
    with default_storage.open(images[0].file) as original:
        assert archive.read(images[0].filename) == original.read()


def _zip_peak(images) -> int:
    tracemalloc.start()
    for _ in services.zip_stream(iter(images), chunk_size=64 * 1024):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_zip_memory_does_not_grow_with_the_number_of_images(user):
    from django.core.files.base import ContentFile

    job = make_job(owner=user)
    payload = ContentFile(b"\x89PNG" + bytes(300_000))
    images = [make_image(job, file=default_storage.save("images/z/big.png", payload)) for _ in range(40)]
    few, many = _zip_peak(images[:4]), _zip_peak(images)
    assert many < few + 1_000_000, (few, many)  # 10x the images, not 10x the memory
