"""Shared fixtures: isolated media, logged-in clients, jobs that run inline."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from django.test import Client
from django_q.conf import Conf

from tests.factories import make_user

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Real password hashing costs ~0.3 s a user; tests do not need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A studio page's long-poll outlives its browser test by at most this long.
    settings.LIVE_WAIT_SECONDS = 2
    # Tests never depend on keys in the environment: every provider starts unconfigured.
    settings.PROVIDER_SETTINGS = {
        name: {"api_key": "", "base_url": conf["base_url"]} for name, conf in settings.PROVIDER_SETTINGS.items()
    }
    return settings.MEDIA_ROOT


@pytest.fixture
def user(db):
    return make_user(username="alice")


@pytest.fixture
def other_user(db):
    return make_user(username="bob")


@pytest.fixture
def client_for():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.fixture
def alice(user, client_for) -> Client:
    return client_for(user)


@pytest.fixture
def run_jobs_inline(monkeypatch, django_capture_on_commit_callbacks):
    """Enqueued jobs run in this process as soon as their transaction commits (django-q2 sync)."""
    monkeypatch.setattr(Conf, "SYNC", True)
    return django_capture_on_commit_callbacks


@pytest.fixture
def runner_waits(monkeypatch):
    """The waits the job runner makes between attempts, recorded instead of slept (only the
    runner's: the providers' poll loops and the emulators keep their real clock)."""
    from studio import tasks

    waits = []

    def record(job_id: int, seconds: float) -> bool:
        waits.append(seconds)
        return True

    monkeypatch.setattr(tasks, "pause", record)
    return waits


@pytest.fixture(scope="session", autouse=True)
def patient_browser_assertions():
    """Browser assertions wait up to 15 s (not 5): on a loaded 2-core machine a submit, a render
    and a swap can take that long. They still return as soon as they pass."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def worker(transactional_db, media_root):
    """A real django-q2 cluster in its own process, sharing the test database file and media folder."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from django.db import connection

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "MEDIA_ROOT": str(media_root),
        "Q_WORKERS": "1",
    }
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_in(page, live_server, username: str, next_path: str = "/") -> None:
    """Log in through the real login form (test users' password), landing on `next_path`."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/account/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button.primary")
    expect(page).to_have_url(f"{live_server.url}{next_path}")


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until predicate() is truthy or the deadline passes; returns its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def _emulated(settings, emulator, provider: str, api_key: str, base_url: str, *, serves_files: bool = False):
    """Start an emulator and point the provider's settings at it (and allow its file URLs)."""
    emulator.start()
    settings.PROVIDER_SETTINGS = {**settings.PROVIDER_SETTINGS, provider: {"api_key": api_key, "base_url": base_url}}
    if serves_files:
        settings.DOWNLOAD_INSECURE_HOSTS = {emulator.url.removeprefix("http://")}
    yield emulator
    emulator.stop()


@pytest.fixture
def openai_emulator(settings):
    from tests.emulators.openai_api import OpenAIEmulator

    emulator = OpenAIEmulator()
    yield from _emulated(settings, emulator, "openai", emulator.api_key, f"{emulator.url}/v1")


@pytest.fixture
def stability_emulator(settings):
    from tests.emulators.stability_api import StabilityEmulator

    emulator = StabilityEmulator()
    yield from _emulated(settings, emulator, "stability", emulator.api_key, emulator.url)


@pytest.fixture
def replicate_emulator(settings):
    from tests.emulators.replicate_api import ReplicateEmulator

    emulator = ReplicateEmulator()
    yield from _emulated(settings, emulator, "replicate", emulator.token, emulator.url, serves_files=True)


@pytest.fixture
def midjourney_proxy(settings):
    """The C# fork's flavour unless a test sets `flavor = "java"`."""
    from tests.emulators.midjourney_proxy import MidjourneyProxyEmulator

    emulator = MidjourneyProxyEmulator()
    yield from _emulated(settings, emulator, "midjourney", emulator.secret, emulator.url, serves_files=True)


@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto's server mode) on a free port for the session; yields its URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


S3_KEYS = {"AWS_ACCESS_KEY_ID": "atelier-test-key", "AWS_SECRET_ACCESS_KEY": "atelier-test-secret"}


def new_bucket(endpoint: str) -> SimpleNamespace:
    """A new, empty bucket on the local S3 server: a boto3 client, the bucket's name, the endpoint."""
    import uuid

    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = f"atelier-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return SimpleNamespace(client=client, name=bucket, endpoint=endpoint)


@pytest.fixture
def s3_bucket(s3_server):
    return new_bucket(s3_server)


def s3_env(bucket: SimpleNamespace) -> dict[str, str]:
    """The environment that puts media in the bucket (what a deployment sets)."""
    return {
        "STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket.name,
        "AWS_S3_ENDPOINT_URL": bucket.endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        **S3_KEYS,
    }


@pytest.fixture
def s3_media(settings, s3_bucket):
    """Media storage is the bucket, configured as config/settings.py does for STORAGE=s3."""
    options = {
        "bucket_name": s3_bucket.name,
        "endpoint_url": s3_bucket.endpoint,
        "region_name": "us-east-1",
        "access_key": S3_KEYS["AWS_ACCESS_KEY_ID"],
        "secret_key": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        "custom_domain": None,
        "max_memory_size": 4 * 1024 * 1024,
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    return s3_bucket
