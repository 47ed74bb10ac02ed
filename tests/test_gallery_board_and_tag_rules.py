"""Who may take a board or tag off an image (whoever added it, the image's owner, staff) and who
may delete a board (its creator, staff; the images stay)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from gallery.models import Board, BoardImage, Image, ImageTag, Tag
from tests.factories import make_image, make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db, client_for):
    """owner made the image; adder put it on a board and tagged it; other and staff did nothing."""
    users = {name: make_user(username=name) for name in ("owner", "adder", "other")}
    users["staff"] = make_user(username="staff", is_staff=True)
    return {name: (user, client_for(user)) for name, user in users.items()}


@pytest.fixture
def labelled(people):
    image = make_image(make_job(owner=people["owner"][0]))
    adder = people["adder"][1]
    adder.post(reverse("gallery:image_boards", args=[image.pk]), {"new_board": "Moodboard"})
    adder.post(reverse("gallery:tags", args=[image.pk]), {"tag": "sky"})
    return image


def take_off_board(client, image):
    board = Board.objects.get(name="Moodboard")
    return client.post(reverse("gallery:image_boards", args=[image.pk]), {"remove": board.pk})


def take_off_tag(client, image):
    return client.post(reverse("gallery:tags", args=[image.pk]), {"remove": "sky"})


def test_who_added_a_board_or_tag_is_recorded(labelled, people):
    adder = people["adder"][0]
    assert BoardImage.objects.get(image=labelled).added_by == adder
    assert ImageTag.objects.get(image=labelled).added_by == adder


@pytest.mark.parametrize("who", ["adder", "owner", "staff"])
def test_the_adder_the_owner_or_staff_may_take_a_board_off(labelled, people, who):
    assert take_off_board(people[who][1], labelled).status_code == 302
    assert not BoardImage.objects.exists() and Board.objects.exists()


@pytest.mark.parametrize("who", ["adder", "owner", "staff"])
def test_the_adder_the_owner_or_staff_may_remove_a_tag(labelled, people, who):
    assert take_off_tag(people[who][1], labelled).status_code == 302
    assert not ImageTag.objects.exists() and Tag.objects.exists()


def test_anyone_else_gets_a_403_that_says_who_may(labelled, people):
    other = people["other"][1]
    response = take_off_board(other, labelled)
    assert response.status_code == 403
    assert "Only whoever added this image to “Moodboard”, the image&#x27;s owner or staff" in response.content.decode()
    response = take_off_tag(other, labelled)
    assert response.status_code == 403 and "Only whoever tagged this image “sky”" in response.content.decode()
    assert BoardImage.objects.count() == 1 and ImageTag.objects.count() == 1


def test_the_remove_buttons_show_only_to_those_who_may(labelled, people):
    def buttons(who):
        html = people[who][1].get(reverse("gallery:detail", args=[labelled.pk])).content.decode()
        return ("Take off Moodboard" in html, "Remove tag sky" in html)

    assert buttons("adder") == buttons("owner") == buttons("staff") == (True, True)
    assert buttons("other") == (False, False)


def test_taking_off_what_is_not_there_is_quietly_nothing(labelled, people):
    owner = people["owner"][1]
    take_off_board(owner, labelled)
    assert take_off_board(owner, labelled).status_code == 302
    assert owner.post(reverse("gallery:tags", args=[labelled.pk]), {"remove": "sea"}).status_code == 302


def test_bulk_tagging_records_the_tagger_and_keeps_earlier_taggers(people):
    owner, adder = people["owner"], people["adder"]
    images = [make_image(make_job(owner=owner[0])) for _ in range(2)]
    adder[1].post(reverse("gallery:tags", args=[images[0].pk]), {"tag": "sky"})
    owner[1].post(reverse("gallery:bulk"), {"action": "tag", "ids": [i.pk for i in images], "tag": "sky"})
    assert dict(ImageTag.objects.values_list("image_id", "added_by__username")) == {
        images[0].pk: "adder",
        images[1].pk: "owner",
    }


def delete_board(client, board):
    return client.post(reverse("gallery:board_delete", args=[board.pk]))


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_the_creator_or_staff_may_delete_a_board_and_its_images_stay(people, who):
    creator = people["owner"]
    images = [make_image(make_job(owner=people["adder"][0])) for _ in range(3)]
    creator[1].post(reverse("gallery:bulk"), {"action": "board", "ids": [i.pk for i in images], "new_board": "Picks"})
    board = Board.objects.get(name="Picks")
    response = delete_board(people[who][1], board)
    assert response.status_code == 302 and response["Location"] == reverse("gallery:boards")
    assert "Deleted the board “Picks”. Its 3 images stay in the gallery." in [
        str(m) for m in get_messages(response.wsgi_request)
    ]
    assert not Board.objects.exists() and not BoardImage.objects.exists() and Image.objects.count() == 3


def test_nobody_else_may_delete_a_board(people):
    board = Board.objects.create(name="Picks", created_by=people["owner"][0])
    for who in ("adder", "other"):
        response = delete_board(people[who][1], board)
        assert response.status_code == 403
        assert "Only the person who created “Picks”, or staff, can delete it." in response.content.decode()
    assert Board.objects.exists()


def test_a_board_whose_creator_is_gone_may_be_deleted_by_staff_only(people):
    board = Board.objects.create(name="Orphan", created_by=None)
    assert delete_board(people["other"][1], board).status_code == 403
    assert delete_board(people["staff"][1], board).status_code == 302


def test_deleting_a_board_takes_a_post(people):
    board = Board.objects.create(name="Picks", created_by=people["owner"][0])
    assert people["owner"][1].get(reverse("gallery:board_delete", args=[board.pk])).status_code == 405
    assert people["owner"][1].post(reverse("gallery:board_delete", args=[board.pk + 1])).status_code == 404


def test_the_delete_action_asks_for_confirmation_and_shows_only_to_who_may(people):
    board = Board.objects.create(name="Picks", created_by=people["owner"][0])
    confirm = 'data-confirm="Delete the board “Picks”? The images on it stay in the gallery."'
    action = reverse("gallery:board_delete", args=[board.pk])
    for who, shown in (("owner", True), ("staff", True), ("other", False)):
        client = people[who][1]
        for page in (client.get(reverse("gallery:boards")), client.get(reverse("gallery:grid"), {"board": board.pk})):
            html = page.content.decode()
            assert (action in html and confirm in html) is shown, (who, page.wsgi_request.path)
