"""API tokens are a login only where scripts need one, and come read-only or read-write."""

import json
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from studio.models import Job
from tests.factories import make_image

pytestmark = pytest.mark.django_db


def make_token(user, scope=ApiToken.Scope.READ_WRITE, name="nightly-batch") -> str:
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name=name, digest=hash_token(raw), hint=raw[:8], scope=scope)
    return raw


def bearer(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


JOB = {"model": "offline", "prompt": "a lighthouse at dusk"}


def post_job(client: Client):
    return client.post("/api/v1/jobs", json.dumps(JOB), content_type="application/json")


def test_a_token_cannot_mint_tokens_or_open_pages(user):
    api = bearer(make_token(user))
    response = api.post(reverse("accounts:token_create"), {"name": "minted"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert ApiToken.objects.count() == 1
    for name in ("studio:home", "accounts:tokens", "gallery:grid"):
        assert api.get(reverse(name)).status_code == 302


def test_a_bearer_header_on_a_page_leaves_the_session_user(alice, user, other_user):
    alice.defaults["HTTP_AUTHORIZATION"] = f"Bearer {make_token(other_user, name='bobs-cron')}"
    html = alice.get(reverse("accounts:tokens")).content.decode()
    assert user.get_username() in html and "bobs-cron" not in html  # alice's page, not bob's tokens


def test_a_token_opens_the_image_files_its_answers_link_to(user):
    image = make_image(owner=user)
    api = bearer(make_token(user, ApiToken.Scope.READ))
    assert api.get(reverse("gallery:file", args=[image.pk])).status_code == 200
    assert api.get(reverse("gallery:thumbnail", args=[image.pk])).status_code == 200
    assert api.get(reverse("gallery:download", args=[image.pk])).status_code == 302  # a page: no token login


@pytest.mark.parametrize("header", ["Bearer atl_nope", "Bearer ", "bearer atl_nope", "Bearer atl_\ud800"])
def test_an_invalid_token_is_401_whatever_cookie_comes_with_it(alice, user, header):
    image = make_image(owner=user)
    alice.defaults["HTTP_AUTHORIZATION"] = header
    for path in ("/api/v1/models", "/api/v1/images", reverse("gallery:file", args=[image.pk])):
        response = alice.get(path)
        assert response.status_code == 401, path
        assert "not valid" in response.json()["error"]["message"]
    assert post_job(alice).status_code == 401 and Job.objects.count() == 1  # the image's own job


def test_a_revoked_token_is_401_even_with_a_session(alice, user):
    raw = make_token(user)
    ApiToken.objects.all().delete()
    alice.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    assert alice.get("/api/v1/models").status_code == 401


def test_an_inactive_users_token_is_401(user):
    raw = make_token(user)
    user.is_active = False
    user.save()
    assert bearer(raw).get("/api/v1/models").status_code == 401


def test_a_read_only_token_reads_but_cannot_write(user):
    api = bearer(make_token(user, ApiToken.Scope.READ))
    assert api.get("/api/v1/models").status_code == 200
    assert api.get("/api/v1/images").status_code == 200
    response = post_job(api)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["kind"] == "read_only_token" and "read-only" in error["message"] and "POST" in error["message"]
    assert not Job.objects.exists()
    for method in ("put", "patch", "delete"):
        assert getattr(api, method)("/api/v1/jobs/1").status_code == 403, method


def test_a_read_write_token_creates_jobs(user, run_jobs_inline):
    with run_jobs_inline(execute=True):
        response = post_job(bearer(make_token(user)))
    assert response.status_code == 201 and Job.objects.get().owner == user


def test_the_token_page_creates_a_read_only_token_and_shows_its_scope(alice, user):
    html = alice.get(reverse("accounts:tokens")).content.decode()
    assert 'name="scope"' in html and "Read only" in html and "Read and write" in html
    html = alice.post(reverse("accounts:token_create"), {"name": "viewer", "scope": "read"}).content.decode()
    raw = re.search(r'value="(atl_[^"]+)"', html).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.scope == ApiToken.Scope.READ and token.digest == hash_token(raw)
    assert "Access: Read only" in html
    assert "<td>Read only</td>" in alice.get(reverse("accounts:tokens")).content.decode()


def test_the_token_page_refuses_an_unknown_scope(alice):
    response = alice.post(reverse("accounts:token_create"), {"name": "x", "scope": "admin"}, follow=True)
    assert "not one of the available choices" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_token_name_with_a_nul_byte_is_refused_not_a_500(alice):
    response = alice.post(reverse("accounts:token_create"), {"name": "a\x00b", "scope": "read"}, follow=True)
    assert response.status_code == 200 and not ApiToken.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_existing_tokens_become_read_write():
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0001_initial")])
    old_apps = executor.loader.project_state([("accounts", "0001_initial")]).apps
    user = old_apps.get_model("auth", "User").objects.create(username="old")
    old_apps.get_model("accounts", "ApiToken").objects.create(user=user, name="old", digest="d" * 64, hint="atl_old")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("accounts"))
    assert ApiToken.objects.get(name="old").scope == ApiToken.Scope.READ_WRITE
