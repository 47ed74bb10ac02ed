"""Hostile values in the gallery's query parameters and forms: a clear answer, never a 5xx.

Ids and dates go through studio.params (one parser each), cursors through
gallery.selectors.decode_cursor (the UI and the API), free-text filters lose control characters,
and names with them are refused. Run on PostgreSQL too (`make test-postgres`): NUL is its case."""

import base64
import io
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from gallery import selectors
from gallery.models import Board, Tag
from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db

ODD_IDS = ["²", "١٢", "99999999999999999999999", "9223372036854775808", "-1", "0", "1e3", "0x1", ""]


def cursor(text: str) -> str:
    """A cursor as a client could forge it: any JSON text, base64-encoded."""
    return base64.urlsafe_b64encode(text.encode()).decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def image(user):
    return make_image(make_job(owner=user))


@pytest.fixture
def api(user):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="test", digest=hash_token(raw), hint=raw[:8])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.mark.parametrize("value", ODD_IDS)
def test_a_board_filter_that_is_not_an_id_is_ignored(alice, image, value):
    response = alice.get(reverse("gallery:grid"), {"board": value})
    assert response.status_code == 200 and response.context["filters"].board in (None, 0)
    assert [i.pk for i in response.context["page"].images] == [image.pk]


@pytest.mark.parametrize("value", ODD_IDS)
def test_taking_an_image_off_a_board_that_is_not_an_id_is_a_404(alice, image, value):
    assert alice.post(reverse("gallery:image_boards", args=[image.pk]), {"remove": value}).status_code == 404


@pytest.mark.parametrize("value", ODD_IDS)
def test_adding_to_a_board_that_is_not_an_id_asks_for_a_board(alice, image, value):
    response = alice.post(reverse("gallery:image_boards", args=[image.pk]), {"board": value})
    assert response.status_code == 302 and messages_of(response) == ["Pick a board, or name a new one."]


@pytest.mark.parametrize("action", ["zip", "board", "tag", "delete"])
@pytest.mark.parametrize("value", ODD_IDS)
def test_bulk_ids_that_are_not_ids_select_nothing(alice, image, action, value):
    board = Board.objects.create(name="Picks")
    response = alice.post(reverse("gallery:bulk"), {"action": action, "ids": [value], "board": board.pk, "tag": "x"})
    assert response.status_code == 302 and messages_of(response) == ["Select some images first: tick the box on each."]


def test_a_zip_request_with_a_23_digit_id_zips_the_real_ones(alice, image):
    response = alice.post(reverse("gallery:bulk"), {"action": "zip", "ids": [image.pk, "9" * 23, "²"]})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == [image.filename]


def test_bulk_board_with_a_board_that_is_not_an_id_asks_for_a_board(alice, image):
    response = alice.post(reverse("gallery:bulk"), {"action": "board", "ids": [image.pk], "board": "²"})
    assert messages_of(response) == ["Pick a board, or name a new one."]


def test_a_23_digit_image_id_in_the_url_is_a_404(alice):
    assert alice.get(f"/gallery/{'9' * 23}/").status_code == 404


@pytest.mark.parametrize(
    "value", ["9999-12-31", "0001-01-01", "2026-13-40", "10000-01-01", "2026-02-30", "x" * 100_000]
)
@pytest.mark.parametrize("name", ["from", "to"])
def test_dates_out_of_range_or_malformed_are_ignored_with_a_notice(alice, image, name, value):
    response = alice.get(reverse("gallery:grid"), {name: value})
    assert response.status_code == 200 and [i.pk for i in response.context["page"].images] == [image.pk]
    [notice] = response.context["notices"]
    assert notice.startswith(f"Ignored the {name} date “{value[:40]}”: use YYYY-MM-DD, from 1900 to 2999.")


def test_dates_at_the_ends_of_the_range_still_filter(alice, image):
    assert [i.pk for i in alice.get(reverse("gallery:grid"), {"from": "1900-01-01", "to": "2999-12-31"}).context[
        "page"
    ].images] == [image.pk]  # fmt: skip
    assert alice.get(reverse("gallery:grid"), {"to": "1900-01-01"}).context["page"].images == []


TAMPERED_CURSORS = [
    '["2026-01-01T00:00:00+00:00", 1e999]',
    '["2026-01-01T00:00:00+00:00", NaN]',
    '["2026-01-01T00:00:00+00:00", -Infinity]',
    '["2026-01-01T00:00:00+00:00", 1e3]',
    '["2026-01-01T00:00:00+00:00", "5"]',
    '["2026-01-01T00:00:00+00:00", true]',
    '["2026-01-01T00:00:00+00:00", 99999999999999999999999]',
    '["2026-01-01T00:00:00+00:00", -1]',
    '["9999-12-31T23:59:59-12:00", 1]',
    '["0001-01-01T00:00:00+14:00", 1]',
    '["2026-01-01T00:00:00", 1]',
    "[1e999, 1]",
    "[null, 1]",
    '["2026-01-01T00:00:00+00:00"]',
    '{"a": 1}',
    '"\\u0000"',
    "1" * 5000,
]


@pytest.mark.parametrize("text", TAMPERED_CURSORS)
def test_a_tampered_cursor_is_refused_by_the_decoder(text):
    assert selectors.decode_cursor(cursor(text)) is None


@pytest.mark.parametrize("text", TAMPERED_CURSORS)
@pytest.mark.parametrize("sort", ["newest", "oldest", "favourites"])
def test_a_tampered_cursor_starts_the_gallery_from_the_top(alice, image, sort, text):
    response = alice.get(reverse("gallery:grid"), {"sort": sort, "cursor": cursor(text)})
    assert response.status_code == 200 and [i.pk for i in response.context["page"].images] == [image.pk]


@pytest.mark.parametrize("text", TAMPERED_CURSORS)
def test_a_tampered_cursor_is_a_400_in_the_api(api, image, text):
    response = api.get("/api/v1/images", {"cursor": cursor(text)})
    assert response.status_code == 400 and "cursor is not valid" in response.json()["error"]["message"]


def test_a_genuine_cursor_still_pages(api, user):
    job = make_job(owner=user)
    images = [make_image(job, with_files=False) for _ in range(selectors.PAGE_SIZE + 2)]
    first = api.get("/api/v1/images").json()
    second = api.get("/api/v1/images", {"cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in second["images"]] == [images[1].pk, images[0].pk]


@pytest.mark.parametrize("name", ["tag", "user", "q"])
def test_nul_and_control_characters_in_filters_are_dropped(alice, image, name):
    Tag.objects.create(name="sky")
    value = {"tag": "s\x00ky", "user": "al\x00ice", "q": "light\x00house"}[name]
    response = alice.get(reverse("gallery:grid"), {name: value})
    assert response.status_code == 200 and [i.pk for i in response.context["page"].images] == (
        [] if name == "tag" else [image.pk]
    )
    assert "\x00" not in getattr(response.context["filters"], name)


def test_a_board_name_with_nul_is_refused_with_a_form_error(alice, image):
    response = alice.post(reverse("gallery:board_create"), {"name": "Spring\x00campaign"})
    assert response.status_code == 422 and "cannot contain control characters" in response.content.decode()
    response = alice.post(reverse("gallery:image_boards", args=[image.pk]), {"new_board": "a\x00b"})
    assert messages_of(response) == ["A board name cannot contain control characters."]
    assert not Board.objects.exists()


def test_a_tag_with_nul_is_refused_and_removing_one_is_a_no_op(alice, image):
    response = alice.post(reverse("gallery:tags", args=[image.pk]), {"tag": "a\x00b"}, follow=True)
    assert "A tag is 1–40 letters" in response.content.decode() and not Tag.objects.exists()
    response = alice.post(reverse("gallery:tags", args=[image.pk]), {"remove": "a\x00b"})
    assert response.status_code == 302 and messages_of(response) == []
