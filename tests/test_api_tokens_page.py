"""Users create and revoke API tokens; a token is shown once and only its hash is stored."""

import re

import pytest
from django.urls import reverse

from accounts.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db


def test_create_shows_the_token_once_and_stores_only_a_hash(alice, user):
    html = alice.post(reverse("accounts:token_create"), {"name": "script", "scope": "read_write"}).content.decode()
    raw = re.search(r'value="(atl_[^"]+)"', html).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.digest == hash_token(raw) and raw not in (token.name, token.hint, token.digest)
    assert raw not in alice.get(reverse("accounts:tokens")).content.decode()


def test_a_token_needs_a_name(alice):
    response = alice.post(reverse("accounts:token_create"), {"name": " ", "scope": "read"}, follow=True)
    assert "Give the token a name" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoke_only_your_own(alice, client_for, other_user, user):
    alice.post(reverse("accounts:token_create"), {"name": "mine", "scope": "read"})
    token = ApiToken.objects.get()
    assert client_for(other_user).post(reverse("accounts:token_delete", args=[token.pk])).status_code == 404
    alice.post(reverse("accounts:token_delete", args=[token.pk]))
    assert not ApiToken.objects.exists()
