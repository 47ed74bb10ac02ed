"""Atelier settings: one module, every value from the environment or `.env`."""

import logging
import os
import secrets
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config import queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Values already in the environment win over the file. ATELIER_ENV_FILE="" reads no file: the test
# suite's settings (tests/settings.py) set that, so a developer's `.env` never changes a test.
ENV_FILE = os.environ.get("ATELIER_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE)


def _positive_int(name: str, default: int) -> int:
    value = env.int(name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1, not {value}")
    return value


@contextmanager
def _private_umask() -> Iterator[None]:
    """Files and folders made inside are created readable by this user only (0600/0700): the mode
    is right from the first instant, never tightened by a chmod after the data is there."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


DATA_DIR = Path(env.str("ATELIER_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
with _private_umask():
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use SECRET_KEY when given; otherwise generate one once and keep it in the data dir."""
    if key := env.str("SECRET_KEY", default=""):
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        with _private_umask():
            fd, scratch = tempfile.mkstemp(dir=DATA_DIR, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(50))
            # A link appears whole or not at all: a process starting alongside (web and worker)
            # never reads a half-written key, and the first one written wins.
            os.link(scratch, key_file)
        except FileExistsError:
            pass
        finally:
            os.unlink(scratch)
    return key_file.read_text().strip()


def _tighten(paths: dict[Path, int]) -> None:
    """Data made before Atelier created it private keeps the modes it had (0755, 0644): set the
    given mode on each path this user owns that others can read, and say so once (the next start
    finds nothing to do)."""
    tightened = []
    for path, mode in paths.items():
        try:
            found = path.stat()
        except FileNotFoundError:
            continue
        if found.st_uid == os.getuid() and stat.S_IMODE(found.st_mode) & 0o077:
            path.chmod(mode)
            tightened.append(f"{path} {stat.S_IMODE(found.st_mode):o} -> {mode:o}")
    if tightened:
        logging.getLogger(__name__).warning("Made readable by this user only: %s", ", ".join(tightened))


def _create_private_file(path: Path) -> None:
    """Create an empty file 0600 if it does not exist yet (SQLite takes an empty file as an empty
    database and gives its -wal and -shm files the same mode)."""
    with _private_umask():
        path.parent.mkdir(parents=True, exist_ok=True)
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_q",
    "axes",
    "accounts",
    "studio",
    "gallery",
    "compat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    # Before anything that reads the body (CSRF reads POST): over REQUEST_MAX_BYTES is 413 unread.
    "config.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.BearerTokenMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out log-in into the 429 login page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_private = {DATA_DIR: 0o700, DATA_DIR / "secret_key": 0o600}  # with the database's files, below
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'atelier.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE avoids
    # "database is locked" on read-then-write transactions.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_atelier.sqlite3")}
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        _database = Path(DATABASES["default"]["NAME"])
        _create_private_file(_database)
        _private |= {_database.with_name(_database.name + end): 0o600 for end in ("", "-wal", "-shm")}
_tighten(_private)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes checks every log-in (AxesStandaloneBackend first, before the password is): after
# LOGIN_FAILURE_LIMIT failures for one username from one address, that pair is refused for
# LOGIN_COOLOFF_MINUTES after its last failure. Other users, and the same user elsewhere, are not.
# A successful log-in clears the count; staff unlock on /account/lockouts/ (or
# `manage.py axes_reset_username <name>`). API tokens never go through authenticate(): unaffected.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = _positive_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_positive_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.lockouts.username_of"
# The address is REMOTE_ADDR, unless TRUSTED_PROXY_COUNT reverse proxies stand in front (each one
# appending to X-Forwarded-For): then it is the one the outermost appended, which no client can
# forge. Behind a proxy without it, every log-in comes "from the proxy": anyone could lock anyone out.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 (no proxy) or more, not {TRUSTED_PROXY_COUNT}")
AXES_CLIENT_IP_CALLABLE = "accounts.lockouts.client_address"
AXES_RESET_ON_SUCCESS = True
# Tries during a lock-out are refused unchecked and do not extend it, so "try again at" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockouts.lockout_response"
# The log of every successful log-in would only grow; failures are what the lock-out needs.
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studio:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise serves from finders too, but wants the folder
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media"))).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# STORAGE=s3 keeps media in an S3-compatible bucket (django-storages); the web process streams
# each file through a login-checked view either way, so the bucket stays private.
STORAGE = env.str("STORAGE", default="local")
if STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            # Unset: boto3's own chain (an instance role, ~/.aws) finds the credentials.
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None,
            # A file read from the bucket (served, zipped, sent to a provider) spools to disk past 4 MiB.
            "max_memory_size": 4 * 1024 * 1024,
        },
    }
elif STORAGE != "local":
    raise ImproperlyConfigured(f"STORAGE must be 'local' or 's3', not {STORAGE!r}")
# Media files no row points to (a job killed while writing, a deleted job's inputs) are deleted by
# a scheduled sweep once they are this old; younger ones may belong to a row not yet committed.
ORPHAN_GRACE_SECONDS = _positive_int("ORPHAN_GRACE_SECONDS", 3600)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Load balancers probe /healthz over plain http on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Behind a reverse proxy that ends TLS: trust its X-Forwarded-Proto (it must overwrite any the
# client sent), or SECURE_SSL_REDIRECT would redirect https requests forever.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Uploads: each file is capped at UPLOAD_MAX_BYTES and checked by decoding. The whole request is
# capped at REQUEST_MAX_BYTES: one edit carries an image, a mask and up to 15 references, so the
# default (3 × UPLOAD_MAX_BYTES, 60 MiB) takes a full-size image and a full-size mask even as
# base64 JSON through the API (4/3 larger), with room for references, which share what is left.
# One number, everywhere: the waitress server started by runstudio refuses a longer body before
# reading it, RequestSizeLimitMiddleware answers 413 for any other server before Django reads it,
# and Django keeps all of an accepted request in memory (nothing is spooled to a temp file).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# Pixels of one upload, and of an outpaint's canvas. No model takes more than 9.4 megapixels (every
# input is fitted to its model), so this only has to let a 24-megapixel camera photo (6000×4000) in.
# Memory follows it: an outpaint holds the source, the canvas and its mask at 4 + 4 + 1 bytes a
# pixel (225 MB at 25 megapixels, where a request may use 300; it was 360 MB at 40).
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=25_000_000)
REQUEST_MAX_BYTES = env.int("REQUEST_MAX_BYTES", default=3 * UPLOAD_MAX_BYTES)
if REQUEST_MAX_BYTES < UPLOAD_MAX_BYTES:
    raise ImproperlyConfigured(
        f"REQUEST_MAX_BYTES ({REQUEST_MAX_BYTES}) must be at least UPLOAD_MAX_BYTES ({UPLOAD_MAX_BYTES}): "
        "a request must be able to carry one upload of the largest size allowed"
    )
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES

# Jobs: a running job whose heartbeat is older than JOB_STALE_AFTER_SECONDS lost its worker: the
# recovery sweep re-attaches it to its provider-side job, or fails it as "worker lost".
JOB_STALE_AFTER_SECONDS = env.int("JOB_STALE_AFTER_SECONDS", default=60)
JOB_HEARTBEAT_SECONDS = env.int("JOB_HEARTBEAT_SECONDS", default=10)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=4)
JOB_BACKOFF_MAX_SECONDS = 30.0
JOB_TIMEOUT_SECONDS = env.int("JOB_TIMEOUT_SECONDS", default=600)
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=120.0)
# How long a paid provider-side job (a Replicate prediction, a creative upscale, a Midjourney task)
# is waited for in all, polls included; past it the job fails as "may still be charged". Inside
# the task timeout, so a slow job is reported by Atelier, not cut off by the worker.
PROVIDER_JOB_DEADLINE_SECONDS = env.float("PROVIDER_JOB_DEADLINE_SECONDS", default=480.0)
# The OpenAI-compatible and AUTOMATIC1111 APIs answer when the job ends; past this many seconds
# they answer with an error carrying the job id instead (the job goes on). Each waiting call holds
# a web server thread, and clients must wait longer than this (the OpenAI SDK waits 600 s).
COMPAT_WAIT_SECONDS = env.float("COMPAT_WAIT_SECONDS", default=300.0)
if not 0 <= COMPAT_WAIT_SECONDS < float("inf"):
    raise ImproperlyConfigured(f"COMPAT_WAIT_SECONDS must be a number of seconds, not {COMPAT_WAIT_SECONDS}.")
# Recovery (studio.recovery): every worker sweeps at start and then every JOB_RECOVERY_SECONDS.
# Jobs record "WORKER_HOST:pid"; a cluster restarted on a host recovers its dead predecessor's jobs
# at once, so the name must be unique per host (the machine's name is).
JOB_RECOVERY_SECONDS = _positive_int("JOB_RECOVERY_SECONDS", 10)
WORKER_HOST = env.str("WORKER_HOST", default=socket.gethostname())
# Queued + running jobs one user may have at once (more is refused: 429 on the API).
JOB_USER_MAX_ACTIVE = _positive_int("JOB_USER_MAX_ACTIVE", 20)
# On SIGTERM or Ctrl-C, how long running jobs may take to finish before their workers are killed.
JOB_DRAIN_SECONDS = _positive_int("JOB_DRAIN_SECONDS", 30)
# Provider result downloads (studio.downloads): size cap, and host:port pairs allowed over plain
# http and on private addresses — only for local stand-ins such as the test emulators.
# GPT Image previews: partial images (0-3) streamed while an image renders, shown on its card.
# Off by default: OpenAI bills each partial image as 100 extra output tokens.
OPENAI_PARTIAL_IMAGES = env.int("OPENAI_PARTIAL_IMAGES", default=0)
if not 0 <= OPENAI_PARTIAL_IMAGES <= 3:
    raise ImproperlyConfigured("OPENAI_PARTIAL_IMAGES must be 0 (off), 1, 2 or 3.")
# Replicate: seconds the create call may hold the connection for the result (Prefer: wait=N).
REPLICATE_WAIT_SECONDS = env.int("REPLICATE_WAIT_SECONDS", default=30)
DOWNLOAD_MAX_BYTES = env.int("DOWNLOAD_MAX_BYTES", default=50 * 1024 * 1024)
DOWNLOAD_INSECURE_HOSTS = set(env.list("DOWNLOAD_INSECURE_HOSTS", default=[]))

# Live job cards (studio.live): how long one long-poll waits for a change, how often it looks, and
# how many may wait at once in one web process (each holds a server thread; past that, pages poll
# once a second instead).
LIVE_WAIT_SECONDS = env.float("LIVE_WAIT_SECONDS", default=20.0)
LIVE_CHECK_SECONDS = env.float("LIVE_CHECK_SECONDS", default=0.075)
LIVE_MAX_WAITING = _positive_int("LIVE_MAX_WAITING", 4)

Q_BROKER = env.str("Q_BROKER", default="orm")
if Q_BROKER not in {"orm", "redis"}:
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or 'redis', not {Q_BROKER!r}")
Q_WORKERS = _positive_int("Q_WORKERS", 2)
# retry must exceed timeout, or django-q2 hands a slow job to a second worker.
Q_RETRY_SECONDS = env.int("Q_RETRY_SECONDS", default=JOB_TIMEOUT_SECONDS + 60)
queue.check_timeouts(
    attempts=JOB_MAX_ATTEMPTS,
    provider_timeout=PROVIDER_TIMEOUT_SECONDS,
    backoff_max=JOB_BACKOFF_MAX_SECONDS,
    job_deadline=PROVIDER_JOB_DEADLINE_SECONDS,
    task_timeout=JOB_TIMEOUT_SECONDS,
    broker_retry=Q_RETRY_SECONDS,
    heartbeat=JOB_HEARTBEAT_SECONDS,
    stale_after=JOB_STALE_AFTER_SECONDS,
)
Q_CLUSTER = {
    "name": "atelier",
    "workers": Q_WORKERS,
    "timeout": JOB_TIMEOUT_SECONDS,
    "retry": Q_RETRY_SECONDS,
    "max_attempts": 1,
    # Prefetch no more than the workers can start: what a killed cluster held is all that its
    # death strands (the recovery sweep sends it again), and the rest waits where others can take it.
    "queue_limit": Q_WORKERS,
    "bulk": 1,
    "catch_up": False,
    "save_limit": 250,
    "poll": env.float("Q_POLL_SECONDS", default=0.05),
    "sync": env.bool("Q_SYNC", default=False),
}
if Q_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
else:
    REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
    queue.check_redis(REDIS_URL, secret_key_from_env=env.str("SECRET_KEY", default=""))
    Q_CLUSTER["redis"] = queue.redis_url(REDIS_URL)

# Provider credentials and endpoints. Read here only; never stored in rows or rendered.
PROVIDER_SETTINGS = {
    "openai": {
        "api_key": env.str("OPENAI_API_KEY", default=""),
        "base_url": env.str("OPENAI_BASE_URL", default="https://api.openai.com/v1"),
    },
    "stability": {
        "api_key": env.str("STABILITY_API_KEY", default=""),
        "base_url": env.str("STABILITY_API_HOST", default="https://api.stability.ai"),
    },
    "replicate": {
        "api_key": env.str("REPLICATE_API_TOKEN", default=""),
        "base_url": env.str("REPLICATE_BASE_URL", default="https://api.replicate.com"),
    },
    "midjourney": {
        "api_key": env.str("MIDJOURNEY_PROXY_SECRET", default=""),
        "base_url": env.str("MIDJOURNEY_PROXY_URL", default=""),
    },
}


def _usd_or_none(name: str) -> Decimal | None:
    raw = env.str(name, default="").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be an amount in USD such as 0.05, not {raw!r}")
    return value


# Midjourney bills a monthly plan, not each job: what one job (a grid, an upscale) is counted at.
# Unset: the catalog's default (the Basic plan spread over its jobs; docs/models.md).
MIDJOURNEY_USD_PER_JOB = _usd_or_none("MIDJOURNEY_USD_PER_JOB")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # httpx/openai log request headers at DEBUG; keep them quiet so keys never reach logs.
        "httpx": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        # django-q2 logs every scheduled run at INFO; the console is for what needs attention.
        "django-q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")},
        # django-axes logs each failed log-in and lock-out as a warning; its INFO is start-up chatter.
        "axes": {"level": "WARNING"},
    },
}
