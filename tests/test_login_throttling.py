"""Log-in throttling (django-axes): a username is locked out from an address after repeated
failures, the login page says until when, other users and addresses are not, staff unlock."""

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts import lockouts
from accounts.models import ApiToken, hash_token
from tests.factories import make_user
from tests.test_settings import run

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


# --- behind a reverse proxy: the client's address, never one it wrote itself ---------------------

PROXY = "10.0.0.2"  # what every request seems to come from behind the proxy (REMOTE_ADDR)


def through_proxy(*forwarded_for: str) -> Client:
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=", ".join(forwarded_for))


def test_without_trusted_proxies_x_forwarded_for_is_ignored(user):
    """No proxy is declared: the header is anyone's to write, so it neither hides nor frames anyone."""
    assert settings.TRUSTED_PROXY_COUNT == 0
    fail(Client(HTTP_X_FORWARDED_FOR="203.0.113.9"), "alice")
    assert log_in(Client(HTTP_X_FORWARDED_FOR="198.51.100.1"), "alice").status_code == 429  # same REMOTE_ADDR
    elsewhere = Client(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert log_in(elsewhere, "alice").status_code == 302


def test_behind_one_proxy_an_attacker_locks_out_only_their_own_address(user, settings):
    """Behind the proxy every request comes from its address: counted by that, anyone could lock
    any user out. The proxy appends the address it was connected from; entries the client put in
    front of it change nothing."""
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = [through_proxy(f"192.0.2.{n}", "203.0.113.9") for n in range(settings.AXES_FAILURE_LIMIT)]
    for client in attacker:
        log_in(client, "alice", "wrong password")
    assert log_in(through_proxy("198.51.100.1", "203.0.113.9"), "alice").status_code == 429  # still them
    victim = through_proxy("198.51.100.7")
    assert log_in(victim, "alice").status_code == 302 and logged_in(victim)
    assert lockouts.current()[0].ip_address == "203.0.113.9"


def test_behind_two_proxies_the_client_is_the_second_from_the_right(user, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    fail(through_proxy("192.0.2.1", "203.0.113.9", "10.0.0.1"), "alice")
    assert lockouts.current()[0].ip_address == "203.0.113.9"
    # Past the outer proxy (fewer entries than proxies), the inner one's entry still counts.
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert lockouts.client_address(request) == "198.51.100.7"


@pytest.mark.parametrize("header", ["", "unknown", "203.0.113.9:443", "not an address, 203.0.113.9, junk"])
def test_a_forwarded_for_that_is_not_an_address_counts_as_the_proxy(settings, header):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=header)
    assert lockouts.client_address(request) == PROXY


def test_a_negative_proxy_count_is_refused_at_start(tmp_path):
    result = run(["manage.py", "check"], tmp_path, TRUSTED_PROXY_COUNT="-1")
    assert result.returncode != 0 and "TRUSTED_PROXY_COUNT must be 0 (no proxy) or more" in result.stderr
