"""Saved searches: a gallery search kept under a name, private or for the team, listed beside the
gallery, removable by its owner alone, and usable as `?saved=<id>` in the gallery and the API."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from gallery.models import SavedSearch
from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db
GRID = reverse("gallery:grid")


@pytest.fixture
def bob(other_user, client_for):
    return client_for(other_user)


@pytest.fixture
def images(user, other_user):
    fox = make_image(make_job(user, status="succeeded", prompt="a red fox in the snow"), with_files=False)
    whale = make_image(make_job(other_user, status="succeeded", prompt="a whale at dusk"), with_files=False)
    return fox, whale


def save(client, name="Foxes", query="q=fox", shared=False):
    data = {"name": name, "query": query} | ({"shared": "1"} if shared else {})
    return client.post(reverse("gallery:saved_search_create"), data, follow=True)


def shown(response) -> set[int]:
    return {image.pk for image in response.context["page"].images}


def api_for(user) -> Client:
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="t", digest=hash_token(raw), hint=raw[:8])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_saved_search_is_listed_and_shows_its_filters_again(alice, images):
    response = save(alice, query="q=fox&sort=oldest")
    search = SavedSearch.objects.get()
    assert response.redirect_chain[-1][0] == f"{GRID}?saved={search.pk}"
    html = response.content.decode()
    assert "Saved the search “Foxes” for you alone." in html
    assert f'href="{GRID}?saved={search.pk}" aria-current="page">Foxes</a>' in html
    assert shown(response) == {images[0].pk}
    assert 'value="fox"' in html and '<option value="oldest" selected>' in html  # the filters, shown


def test_a_private_search_is_invisible_to_others(alice, bob, images, other_user):
    save(alice)
    search = SavedSearch.objects.get()
    assert "Foxes" not in bob.get(GRID).content.decode()
    assert bob.get(GRID, {"saved": search.pk}).status_code == 404
    api = api_for(other_user)
    assert api.get("/api/v1/images", {"saved": search.pk}).status_code == 404
    assert api.get("/api/v1/saved-searches").json() == {"saved_searches": []}


def test_a_shared_search_is_used_by_the_team_but_removed_by_its_owner_alone(alice, bob, images, user):
    save(alice, shared=True)
    search = SavedSearch.objects.get()
    page = bob.get(GRID)
    assert f'?saved={search.pk}">Foxes</a>' in page.content.decode() and "by alice" in page.content.decode()
    assert shown(bob.get(GRID, {"saved": search.pk})) == {images[0].pk}
    assert bob.post(reverse("gallery:saved_search_delete", args=[search.pk])).status_code == 404
    assert SavedSearch.objects.exists()
    response = alice.post(reverse("gallery:saved_search_delete", args=[search.pk]), follow=True)
    assert "Removed the saved search “Foxes”." in response.content.decode() and not SavedSearch.objects.exists()


def test_the_api_filters_images_by_a_saved_search(alice, images, user):
    save(alice, query="q=whale")
    search = SavedSearch.objects.get()
    api = api_for(user)
    answer = api.get("/api/v1/images", {"saved": search.pk}).json()
    assert [i["id"] for i in answer["images"]] == [images[1].pk]
    listed = api.get("/api/v1/saved-searches").json()["saved_searches"]
    assert listed == [{"id": search.pk, "name": "Foxes", "owner": "alice", "shared": False, "query": "q=whale"}]


def test_the_next_page_of_a_saved_search_keeps_it(alice, user):
    job = make_job(user, status="succeeded", prompt="a red fox")
    for _ in range(60):
        make_image(job, with_files=False)
    save(alice)
    search = SavedSearch.objects.get()
    first = alice.get(GRID, {"saved": search.pk})
    cursor = first.context["page"].next_cursor
    assert f"saved={search.pk}&amp;cursor={cursor}" in first.content.decode()
    second = alice.get(GRID, {"saved": search.pk, "cursor": cursor}, HTTP_HX_REQUEST="true")
    assert len(shown(first)) + second.content.decode().count("data-tile ") == 60


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a\x00b", "cannot contain control characters"),
        ("x" * 81, "at most 80 characters; this one has 81"),
        ("x" * 100_000, "at most 80 characters"),
        ("   ", "Give the search a name."),
    ],
)
def test_bad_names_are_refused_with_a_message(alice, images, name, message):
    response = save(alice, name=name)
    assert message in response.content.decode() and not SavedSearch.objects.exists()


def test_names_are_unique_per_owner_whatever_the_case(alice, bob, images):
    save(alice, name="Foxes")
    assert "already have a saved search called “FOXES”" in save(alice, name="FOXES").content.decode()
    save(bob, name="Foxes")  # another person's may share the name
    assert SavedSearch.objects.count() == 2


def test_a_search_without_filters_is_not_saved(alice):
    assert "nothing to save" in save(alice, query="").content.decode()
    assert not SavedSearch.objects.exists()


def test_the_query_kept_is_the_checked_filters_only(alice, images):
    save(alice, query="q=%00fox&board=abc&sort=evil&model=nope&from=2024-13-40&mine=1&evil=%3Cscript%3E")
    assert SavedSearch.objects.get().query == "q=fox"


@pytest.mark.parametrize("raw", ["abc", "99999999999999999999999", "-1", "", "0"])
def test_unknown_saved_ids_are_404(alice, raw):
    assert alice.get(GRID, {"saved": raw}).status_code == 404
    assert alice.post(reverse("gallery:saved_search_delete", args=[987654])).status_code == 404
