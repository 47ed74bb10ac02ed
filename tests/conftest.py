"""Shared fixtures: isolated media, logged-in clients, jobs that run inline."""

from __future__ import annotations

import os

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


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until predicate() is truthy or the deadline passes; returns its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def openai_emulator(settings):
    """The OpenAI Images emulator on a random port, with Atelier configured to use it."""
    from tests.emulators.openai_api import OpenAIEmulator

    emulator = OpenAIEmulator().start()
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "openai": {"api_key": emulator.api_key, "base_url": f"{emulator.url}/v1"},
    }
    yield emulator
    emulator.stop()


@pytest.fixture
def replicate_emulator(settings):
    """The Replicate emulator, with Atelier configured to use it and to fetch its output files."""
    from tests.emulators.replicate_api import ReplicateEmulator

    emulator = ReplicateEmulator().start()
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "replicate": {"api_key": emulator.token, "base_url": emulator.url},
    }
    settings.DOWNLOAD_INSECURE_HOSTS = {emulator.url.removeprefix("http://")}
    yield emulator
    emulator.stop()


@pytest.fixture
def stability_emulator(settings):
    """The Stability AI emulator (v1 and v2beta), with Atelier configured to use it."""
    from tests.emulators.stability_api import StabilityEmulator

    emulator = StabilityEmulator().start()
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "stability": {"api_key": emulator.api_key, "base_url": emulator.url},
    }
    yield emulator
    emulator.stop()


@pytest.fixture
def midjourney_proxy(settings):
    """A midjourney-proxy emulator (C# fork flavour unless a test changes it), configured in Atelier."""
    from tests.emulators.midjourney_proxy import MidjourneyProxyEmulator

    emulator = MidjourneyProxyEmulator().start()
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "midjourney": {"api_key": emulator.secret, "base_url": emulator.url},
    }
    settings.DOWNLOAD_INSECURE_HOSTS = {emulator.url.removeprefix("http://")}
    yield emulator
    emulator.stop()
