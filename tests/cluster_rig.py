"""Real clusters on real services, for the chaos tests and bench/chaos.py: a private Redis, a fresh
database, `qcluster` processes each with a data dir of its own, a web server, and SQL reads of the
job table. Like separate hosts, the processes share only the database, the broker and the media
(`Rig.media`: a shared folder here; swap in the S3 settings to share a bucket instead)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# What the rig sets itself; the parent's values (a test run's SQLite, a developer's .env) must not leak in.
OWN_ENV = ("DATABASE_URL", "SECRET_KEY", "MEDIA_ROOT", "Q_BROKER", "REDIS_URL", "Q_WORKERS", "Q_SYNC")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, *, timeout: float, interval: float = 0.2, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout:.0f} s")
        time.sleep(interval)


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence: it can be stopped and
    started again (on the same port) without touching anyone else's Redis."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*command, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self.answers, timeout=10, what="redis-server answering")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class Database:
    """A fresh PostgreSQL database (dropped afterwards) or an SQLite file, and SQL reads of it."""

    def __init__(self, url: str, admin_url: str | None = None) -> None:
        self.url = url
        self.admin_url = admin_url

    @classmethod
    def postgres(cls, server_url: str) -> Database:
        parts = urlsplit(server_url)
        name = f"{parts.path.strip('/') or 'atelier'}_chaos_{uuid.uuid4().hex[:8]}"
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cls(urlunsplit(parts._replace(path=f"/{name}")), admin)

    @classmethod
    def sqlite(cls, path: Path) -> Database:
        return cls(f"sqlite:///{path}")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.admin_url is None:
            with sqlite3.connect(urlsplit(self.url).path, timeout=20) as conn:
                return conn.execute(sql).fetchall()
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchall()

    def jobs(self) -> list[tuple[int, str, str, str]]:
        return self.rows("SELECT id, status, prompt, error_message FROM studio_job ORDER BY id")

    def statuses(self) -> Counter:
        return Counter(status for _, status, _, _ in self.jobs())

    def drop(self) -> None:
        if self.admin_url is None:
            return
        name = urlsplit(self.url).path.strip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SUBMIT = """
import json, sys, django
django.setup()
from django.contrib.auth import get_user_model
from studio import jobs, specs
for username, model, prompt in json.loads(sys.argv[1]):
    owner, _ = get_user_model().objects.get_or_create(username=username)
    jobs.job_create(owner=owner, request=specs.build(model=model, prompt=prompt))
"""

TOKENS = """
import json, sys, django
django.setup()
from django.contrib.auth import get_user_model
from accounts.models import ApiToken, hash_token
tokens = {}
for username in json.loads(sys.argv[1]):
    user, _ = get_user_model().objects.get_or_create(username=username)
    raw = ApiToken.new_raw()
    ApiToken.objects.create(user=user, name="rig", digest=hash_token(raw), hint=raw[:8])
    tokens[username] = raw
print(json.dumps(tokens))
"""


class Rig:
    """The shared environment of a set of hosts, and the processes started on them."""

    def __init__(self, root: Path, database: Database, broker: dict[str, str], **env: str) -> None:
        self.root = root
        self.database = database
        self.broker = broker
        self.media = {"MEDIA_ROOT": str(root / "media")}
        self.secret_key = uuid.uuid4().hex * 2
        self.extra = env
        self.processes: list[subprocess.Popen] = []

    def env(self, host: str, **overrides: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if k not in OWN_ENV and not k.startswith("PYTEST")}
        return {
            **inherited,
            "ATELIER_DATA_DIR": str(self.root / host),
            "DATABASE_URL": self.database.url,
            "SECRET_KEY": self.secret_key,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
            "WORKER_HOST": host,
            **self.broker,
            **self.media,
            **self.extra,
            **overrides,
        }

    def python(self, code: str, *args: str, host: str = "admin") -> str:
        result = subprocess.run(
            [sys.executable, "-c", code, *args], cwd=ROOT, env=self.env(host), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-3000:])
        return result.stdout

    def migrate(self) -> None:
        self.manage("migrate", "--noinput", "-v", "0")

    def manage(self, *args: str, host: str = "admin") -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(host), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-3000:])

    def submit(self, jobs: list[tuple[str, str, str]]) -> None:
        """Create and enqueue jobs as (username, model, prompt), as the web process would."""
        self.python(SUBMIT, json.dumps(jobs))

    def tokens(self, usernames: list[str]) -> dict[str, str]:
        return json.loads(self.python(TOKENS, json.dumps(usernames)))

    def spawn(self, command: list[str], host: str, **overrides: str) -> subprocess.Popen:
        (self.root / host).mkdir(parents=True, exist_ok=True)
        log = open(self.root / host / "process.log", "ab")  # noqa: SIM115 - kept open for the child's life
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env(host, **overrides), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        self.processes.append(process)
        return process

    def start_cluster(self, host: str, workers: int = 2, **overrides: str) -> subprocess.Popen:
        return self.spawn([sys.executable, "manage.py", "qcluster"], host, Q_WORKERS=str(workers), **overrides)

    def start_web(self, host: str = "web", threads: int = 8) -> tuple[subprocess.Popen, str]:
        port = free_port()
        command = [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", f"--threads={threads}"]
        process = self.spawn([*command, "config.wsgi:application"], host)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url), timeout=30, what="the web server answering")
        return process, url

    def log(self, host: str) -> str:
        path = self.root / host / "process.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL to the process's whole group: the cluster, its sentinel and every worker, at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)
        self.processes.clear()


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False
