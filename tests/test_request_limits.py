"""One request-size limit (REQUEST_MAX_BYTES) refused with 413 before any body is read or spooled."""

import io

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from studio.models import Job

pytestmark = pytest.mark.django_db


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body of an oversize request was read")


def oversize(client: Client, path: str, content_type: str, **extra):
    length = settings.REQUEST_MAX_BYTES + 1
    return client.generic(
        "POST",
        path,
        CONTENT_TYPE=content_type,  # given as extra: the client sets it only for a non-empty body
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": UnreadableBody()},
        **extra,
    )


def test_the_request_limit_agrees_with_the_upload_limit():
    assert settings.REQUEST_MAX_BYTES >= 2 * settings.UPLOAD_MAX_BYTES  # an image and its mask, at least
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.REQUEST_MAX_BYTES
    # Everything accepted stays in memory: no upload is ever spooled to a temp file.
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == settings.REQUEST_MAX_BYTES


def test_an_oversize_upload_to_a_page_is_413_html_with_the_limit_and_never_read(alice):
    response = oversize(alice, reverse("studio:editor_submit"), "multipart/form-data; boundary=x")
    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert f"at most {settings.REQUEST_MAX_BYTES:,} bytes" in html
    assert "script-src 'self'" in response["Content-Security-Policy"]  # still a page with the site's headers


def test_an_oversize_api_call_is_413_json_with_the_limit_before_authentication(client):
    response = oversize(client, "/api/v1/jobs", "application/json", HTTP_AUTHORIZATION="Bearer atl_anything")
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["kind"] == "request_too_large" and error["limit_bytes"] == settings.REQUEST_MAX_BYTES
    assert f"at most {settings.REQUEST_MAX_BYTES:,} bytes" in error["message"]
    assert not Job.objects.exists()


def test_the_limit_follows_the_setting(alice, settings):
    settings.REQUEST_MAX_BYTES = 1000
    response = alice.post(reverse("studio:job_submit"), {"model": "offline", "prompt": "x" * 2000})
    assert response.status_code == 413 and "at most 1,000 bytes" in response.content.decode()
    assert not Job.objects.exists()


def test_a_request_within_the_limit_is_served(alice, settings):
    settings.REQUEST_MAX_BYTES = 100_000
    response = alice.post(reverse("studio:job_submit"), {"model": "offline", "prompt": "x"})
    assert response.status_code != 413


def test_an_unreadable_content_length_is_no_body_not_an_error(alice):
    response = alice.generic("GET", reverse("studio:home"), CONTENT_LENGTH="lots")
    assert response.status_code == 200
