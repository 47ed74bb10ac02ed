"""Cross-cutting protections: CSP, login everywhere, CSRF with htmx, secrets out of rows."""

import pytest
from django.urls import reverse

from studio.models import Job

pytestmark = pytest.mark.django_db


def test_csp_forbids_inline_script(alice):
    policy = alice.get(reverse("studio:home"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


@pytest.mark.parametrize("name", ["studio:home", "gallery:grid", "accounts:tokens", "accounts:lockouts"])
def test_every_page_requires_login(client, name):
    assert client.get(reverse(name)).status_code == 302


def test_htmx_posts_carry_the_csrf_token_from_body(alice):
    html = alice.get(reverse("studio:home")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_csrf_is_enforced_for_session_posts(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("studio:job_submit"), {"model": "offline", "prompt": "x"})
    assert response.status_code == 403 and not Job.objects.exists()


def test_provider_keys_never_reach_pages_or_jobs(alice, user, settings, run_jobs_inline):
    secret = "sk-this-must-never-show"
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, "openai": {"api_key": secret, "base_url": "x"}}
    with run_jobs_inline(execute=True):
        alice.post(
            reverse("studio:job_submit"),
            {"model": "offline", "prompt": "x", "size": "1024x1024", "quality": "draft", "n": "1"},
        )
    job = Job.objects.get()
    assert secret not in str(job.params) + job.prompt + job.error_message + str(job.usage)
    assert secret not in alice.get(reverse("studio:home")).content.decode()
