"""Log-in throttling (django-axes): a username is locked out from an address after repeated
failures, the login page says until when, other users and addresses are not, staff unlock."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from tests.factories import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"  # tests.factories.make_user's


def log_in(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return client.get(reverse("studio:home")).status_code == 200


def fail(client: Client, username: str, times: int = settings.AXES_FAILURE_LIMIT):
    for _ in range(times):
        response = log_in(client, username, "wrong password")
    return response


def test_the_limit_is_what_the_settings_say():
    assert settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_a_wrong_password_below_the_limit_says_so(user):
    response = fail(Client(), "alice", times=settings.AXES_FAILURE_LIMIT - 1)
    assert response.status_code == 200 and "correct username and password" in response.content.decode()


def test_after_repeated_failures_the_right_password_is_refused_with_when_to_try_again(user):
    client = Client()
    assert fail(client, "alice").status_code == 429
    response = log_in(client, "alice")
    html = response.content.decode()
    assert response.status_code == 429 and "Too many failed log-ins for “alice”" in html
    assert "Try again at" in html and "(in 15 minutes)" in html and "ask a staff member" in html
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert 'id="id_username"' in html  # still the login page
    assert not logged_in(client)


def test_another_user_from_the_same_address_is_not_locked_out(user, other_user):
    client = Client()
    fail(client, "alice")
    assert log_in(client, "bob").status_code == 302 and logged_in(client)


def test_the_same_user_from_another_address_is_not_locked_out(user):
    fail(Client(), "alice")
    elsewhere = Client(REMOTE_ADDR="10.1.2.3")
    assert log_in(elsewhere, "alice").status_code == 302 and logged_in(elsewhere)


def test_a_successful_log_in_clears_the_count(user):
    client = Client()
    fail(client, "alice", times=settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "alice").status_code == 302
    client = Client()
    fail(client, "alice", times=settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "alice").status_code == 302


def test_staff_see_the_lock_out_and_unlock_it(user, client_for):
    fail(Client(), "alice")
    staff = client_for(make_user(username="carol", is_staff=True))
    html = staff.get(reverse("accounts:lockouts")).content.decode()
    assert "alice" in html and "127.0.0.1" in html
    response = staff.post(
        reverse("accounts:lockout_unlock"), {"username": "alice", "ip_address": "127.0.0.1"}, follow=True
    )
    assert "“alice” can log in from 127.0.0.1 again" in response.content.decode()
    assert "alice" not in staff.get(reverse("accounts:lockouts")).content.decode().split("<h1>")[1]
    client = Client()
    assert log_in(client, "alice").status_code == 302 and logged_in(client)


def test_only_staff_can_unlock(user, alice):
    fail(Client(), "alice")
    assert alice.get(reverse("accounts:lockouts")).status_code == 403
    assert alice.post(reverse("accounts:lockout_unlock"), {"username": "alice"}).status_code == 403
    assert log_in(Client(), "alice").status_code == 429


def test_unlocking_nobody_unlocks_nobody(user, client_for):
    fail(Client(), "alice")
    staff = client_for(make_user(username="carol", is_staff=True))
    response = staff.post(reverse("accounts:lockout_unlock"), {"username": "", "ip_address": ""}, follow=True)
    assert "was not locked out" in response.content.decode()
    response = staff.post(reverse("accounts:lockout_unlock"), {"username": "alice", "ip_address": "x"}, follow=True)
    assert "not an IP address" in response.content.decode()
    assert log_in(Client(), "alice").status_code == 429


def test_a_locked_out_users_api_token_still_works(user):
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="script", digest=hash_token(raw), hint=raw[:8])
    fail(Client(), "alice")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/models").status_code == 200


def test_force_login_is_unaffected_by_a_lock_out(user, client_for):
    fail(Client(), "alice")
    assert logged_in(client_for(user))
