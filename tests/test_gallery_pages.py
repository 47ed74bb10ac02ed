"""The team gallery: grid with cursor pagination and filters, detail, files, delete, favourites."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from gallery.models import Board, Favourite, Image, Tag
from studio.models import Job
from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_empty_gallery_tells_a_new_user_what_to_do(alice):
    assert "Generate your first image" in alice.get(reverse("gallery:grid")).content.decode()


def test_grid_shows_everyones_images_newest_first(alice, user, other_user):
    mine = make_image(make_job(owner=user, status="succeeded"))
    theirs = make_image(make_job(owner=other_user, status="succeeded"))
    html = alice.get(reverse("gallery:grid")).content.decode()
    assert html.index(f"/gallery/{theirs.pk}/") < html.index(f"/gallery/{mine.pk}/")


def seed_images(owner, count):
    job = make_job(owner=owner, status="succeeded")
    return [make_image(job, with_files=False) for _ in range(count)]


@pytest.mark.parametrize("count", [5, 120])
def test_grid_query_count_is_fixed_whatever_the_page(alice, user, other_user, count, django_assert_num_queries):
    seed_images(user, count // 2)
    seed_images(other_user, count - count // 2)
    Favourite.objects.create(user=user, image=Image.objects.first())
    # session + user + one page of images (jobs, owners and favourites joined in) + boards and tags
    # (one UNION) + saved searches for the filter menus = 5; an infinite-scroll fragment has no
    # menus, so 3.
    with django_assert_num_queries(5):
        first = alice.get(reverse("gallery:grid"))
    cursor = first.context["page"].next_cursor
    if cursor:
        with django_assert_num_queries(3):
            alice.get(reverse("gallery:grid"), {"cursor": cursor}, **HTMX)


def test_cursor_pages_cover_every_image_once(alice, user):
    images = seed_images(user, 110)
    seen, cursor = [], ""
    while True:
        response = alice.get(reverse("gallery:grid"), {"cursor": cursor} if cursor else {})
        page = response.context["page"]
        seen += [i.pk for i in page.images]
        if not page.next_cursor:
            break
        assert 'hx-trigger="revealed"' in response.content.decode()
        cursor = page.next_cursor
    assert sorted(seen) == sorted(i.pk for i in images) and len(seen) == len(set(seen))


def test_a_bad_cursor_starts_from_the_top(alice, user):
    seed_images(user, 3)
    assert alice.get(reverse("gallery:grid"), {"cursor": "garbage!"}).status_code == 200


def test_filters_mine_model_favourites_and_search(alice, user, other_user):
    mine = make_image(make_job(owner=user, status="succeeded", prompt="a red barn"))
    theirs = make_image(make_job(owner=other_user, status="succeeded", prompt="a blue whale", model_id="dall-e-3"))
    Favourite.objects.create(user=user, image=theirs)

    def ids(**params):
        return {i.pk for i in alice.get(reverse("gallery:grid"), params).context["page"].images}

    assert ids() == {mine.pk, theirs.pk}
    assert ids(scope="mine") == {mine.pk}
    assert ids(model="dall-e-3") == {theirs.pk}
    assert ids(favourites="1") == {theirs.pk}
    assert ids(q="WHALE") == {theirs.pk}
    assert "No images match" in alice.get(reverse("gallery:grid"), {"q": "zebra"}).content.decode()


def test_filter_change_with_htmx_returns_only_the_grid(alice, user):
    make_image(make_job(owner=user, status="succeeded"))
    response = alice.get(reverse("gallery:grid"), {"q": "lighthouse"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="grid")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="grid"') and "<html" not in html


def test_detail_shows_all_metadata(alice, user):
    job = make_job(
        owner=user,
        status=Job.Status.SUCCEEDED,
        prompt="a lighthouse",
        negative_prompt="fog",
        params={
            "width": 64,
            "height": 64,
            "aspect_ratio": "1:1",
            "quality": "high",
            "n": 1,
            "seed": 77,
            "options": {"style": "vivid"},
        },
        provider_job_id="prov-9",
    )
    image = make_image(job, seed=77, revised_prompt="A tall lighthouse")
    html = alice.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    for text in [
        "a lighthouse",
        "fog",
        "A tall lighthouse",
        "Offline sketch",
        "64×64",
        "high",
        "77",
        "vivid",
        "alice",
        "prov-9",
        "Reuse settings",
    ]:
        assert text in html, text


def test_files_are_served_to_team_members_only(alice, client, user):
    image = make_image(make_job(owner=user, status="succeeded"))
    assert alice.get(reverse("gallery:file", args=[image.pk]))["Content-Type"] == "image/png"
    download = alice.get(reverse("gallery:download", args=[image.pk]))
    assert f'filename="atelier-{image.pk}.png"' in download["Content-Disposition"]
    assert client.get(reverse("gallery:file", args=[image.pk])).status_code == 302


def test_owner_deletes_an_image_and_its_files(alice, user, django_capture_on_commit_callbacks):
    image = make_image(make_job(owner=user, status="succeeded"))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(reverse("gallery:delete", args=[image.pk]))
    assert response.status_code == 302
    assert not Image.objects.exists()
    assert not default_storage.exists(image.file) and not default_storage.exists(image.thumbnail)


def test_deleting_another_users_image_is_forbidden(client_for, other_user, user):
    image = make_image(make_job(owner=user, status="succeeded"))
    response = client_for(other_user).post(reverse("gallery:delete", args=[image.pk]))
    assert response.status_code == 403
    assert "Only the person who made this image" in response.content.decode()
    assert Image.objects.filter(pk=image.pk).exists() and default_storage.exists(image.file)


def test_staff_may_delete_any_image(client_for, user):
    from tests.factories import make_user

    image = make_image(make_job(owner=user, status="succeeded"))
    staff = make_user(is_staff=True)
    assert client_for(staff).post(reverse("gallery:delete", args=[image.pk])).status_code == 302


def test_favourite_toggles_per_user(alice, user, other_user):
    image = make_image(make_job(owner=other_user, status="succeeded"))
    response = alice.post(reverse("gallery:favourite", args=[image.pk]), **HTMX)
    assert 'aria-pressed="true"' in response.content.decode()
    assert Favourite.objects.filter(user=user, image=image).exists()
    alice.post(reverse("gallery:favourite", args=[image.pk]), **HTMX)
    assert not Favourite.objects.exists()


def test_infinite_scroll_returns_the_next_tiles_only(alice, user):
    images = seed_images(user, 50)
    cursor = alice.get(reverse("gallery:grid")).context["page"].next_cursor
    html = alice.get(reverse("gallery:grid"), {"cursor": cursor}, **HTMX).content.decode()
    assert "<html" not in html and 'id="grid"' not in html
    # the two oldest images did not fit on the first page of 48
    assert f"/gallery/{images[1].pk}/" in html and f"/gallery/{images[0].pk}/" in html
    assert f"/gallery/{images[2].pk}/" not in html


def test_the_filter_menus_list_boards_and_tags_apart_by_name(alice, user, other_user):
    """Boards and tags come from one UNION query: each lands in its own menu, in name order, and a
    board keeps its creator (who may delete it)."""
    Board.objects.create(name="Zeppelins", created_by=other_user)
    Board.objects.create(name="Harbours", created_by=user)
    Tag.objects.create(name="moody")
    Tag.objects.create(name="bright")
    context = alice.get(reverse("gallery:grid")).context
    assert [b.name for b in context["boards"]] == ["Harbours", "Zeppelins"]
    assert [b.created_by_id for b in context["boards"]] == [user.pk, other_user.pk]
    assert [t.name for t in context["tags"]] == ["bright", "moody"]
