"""One request-size limit (REQUEST_MAX_BYTES) refused with 413 before any body is read or spooled."""

import base64
import io
import json
import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from studio import params
from studio.management.commands.runstudio import web_command
from studio.models import Job
from tests import fuzz

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


def test_an_oversize_a1111_call_is_413_in_its_own_error_shape(client):
    response = oversize(client, "/sdapi/v1/img2img", "application/json", HTTP_AUTHORIZATION="Bearer atl_anything")
    assert response.status_code == 413
    assert (
        set(response.json()) == {"detail"}
        and f"at most {settings.REQUEST_MAX_BYTES:,} bytes" in response.json()["detail"]
    )


def waitress_answer(max_body: int, length: int) -> bytes | None:
    """What waitress's request parser answers to these headers: an error response, or None."""
    from waitress.adjustments import Adjustments
    from waitress.parser import HTTPRequestParser

    parser = HTTPRequestParser(Adjustments(max_request_body_size=max_body))
    parser.received(f"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
    return parser.error.to_response()[2] if parser.error else None


def test_waitress_takes_exactly_the_limit_and_its_413_states_it():
    import waitress.parser  # noqa: F401  (loaded before the application, as waitress-serve does)

    import config.wsgi

    config.wsgi._waitress_states_the_limit()
    limit = settings.REQUEST_MAX_BYTES
    flag = next(arg for arg in web_command(host="127.0.0.1", port=8000, threads=8) if "max-request-body" in arg)
    max_body = int(flag.split("=")[1])
    assert waitress_answer(max_body, limit) is None
    answer = waitress_answer(max_body, limit + 1).decode()
    assert f"Atelier takes at most {limit:,} bytes ({limit / 2**20:g} MB) in one request" in answer
    assert "max_body" not in answer


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


# --- JSON bodies: a cap of their own, apart from the images they carry as base64 ----------------


@pytest.fixture
def api(user, settings) -> Client:
    settings.COMPAT_WAIT_SECONDS = 0  # no job runs here: the compatible APIs answer at once
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="script", digest=hash_token(raw), hint=raw[:8])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.get("/api/v1/models")  # the first request loads code and templates: not the test's memory
    return client


JSON_ROUTES = ["/api/v1/jobs", "/openai/v1/images/generations", "/sdapi/v1/txt2img", "/sdapi/v1/img2img"]


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_a_json_body_of_empty_objects_is_refused_unparsed_with_the_limit(api, path):
    """54 MB of `{},` parsed would be 1.4 GB of Python objects (it was accepted: 201)."""
    body = b'{"prompt": "x", "model": "offline", "junk": [' + b"{}," * 18_000_000 + b"{}]}"
    with fuzz.peak_memory() as peak:
        response = api.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert f"at most {params.JSON_TEXT_MAX_BYTES:,} bytes (1 MB)" in response.content.decode()
    # The test client's copy of the body and Django's: the body is never parsed.
    assert peak.mb < 2.5 * len(body) / 2**20 and not Job.objects.exists()


def test_a_long_string_with_one_wide_character_is_refused():
    """One emoji makes a whole string 4 bytes a character: 50 MB of text would be 200 MB."""
    for body in ('{"junk": "\U0001f600' + "A" * 2_000_000 + '"}', '{"junk": "\\ud83d\\ude00' + "A" * 2_000_000 + '"}'):
        with pytest.raises(ValueError, match="apart from its base64 images"):
            params.json_object(body.encode())


def test_too_many_strings_are_refused_before_they_are_looked_for():
    with pytest.raises(ValueError, match="at most 100,000"):
        params.json_object(b"[" + b'"",' * 60_000 + b'""]')


@pytest.mark.parametrize("slash", ["/", "\\/"])
def test_base64_images_in_json_are_taken_whole_beside_any_text(slash):
    image = base64.b64encode(bytes(range(256)) * 40_000).decode()  # 13 MB of base64, with slashes
    body = json.dumps(
        {"prompt": 'café 🌈 \u6f22 "quoted"', "image": image, "references": [image, "short"], "n": 2},
        ensure_ascii=False,
    ).replace("/", slash)
    payload = params.json_object(body.encode())
    assert payload == {"prompt": 'café 🌈 \u6f22 "quoted"', "image": image, "references": [image, "short"], "n": 2}


def test_an_image_sized_body_with_a_wide_prompt_is_parsed_in_little_more_than_its_size():
    image = base64.b64encode(bytes(30 * 2**20)).decode()  # 40 MB of base64
    body = json.dumps({"prompt": "🌈" * 1000, "image": image}, ensure_ascii=False).encode()
    with fuzz.peak_memory() as peak:
        payload = params.json_object(body)
    assert payload["image"] == image and payload["prompt"] == "🌈" * 1000
    # The image as a str (1 byte a character), not the whole body decoded at 4 bytes a character.
    assert peak.mb < 1.3 * len(body) / 2**20


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"a": 1}'.encode("utf-16"), "The body must be JSON, in UTF-8."),
        # A backslash outside a string: nothing is taken out of it as if it were (so it stays too long).
        (b'{"a": \\"' + b"A" * (2 * 2**20) + b'"}', "apart from its base64 images"),
        (b'{"a": "' + b"A" * (2 * 2**20) + b'"', "The body must be JSON."),
        (b'["' + b"A" * (2 * 2**20) + b'"]', "The body must be a JSON object."),
    ],
)
def test_bodies_that_are_not_a_json_object_say_so(body, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        params.json_object(body)
