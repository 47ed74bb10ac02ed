"""The job queue's settings (django-q2 and Atelier's own time bounds), checked at start-up: a
combination that would lose or double-run jobs stops the process with one line saying why."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def check_timeouts(
    *,
    attempts: int,
    provider_timeout: float,
    backoff_max: float,
    job_deadline: float,
    task_timeout: int,
    broker_retry: int,
    heartbeat: int,
    stale_after: int,
) -> None:
    """Every attempt with its backoff fits in the task timeout, and the task timeout is below the
    broker's retry (past which the broker hands the task to a second worker)."""
    worst = attempts * provider_timeout + (attempts - 1) * backoff_max
    if worst > task_timeout:
        raise ImproperlyConfigured(
            f"JOB_TIMEOUT_SECONDS ({task_timeout}) is shorter than JOB_MAX_ATTEMPTS × PROVIDER_TIMEOUT_SECONDS "
            f"plus backoff ({attempts} × {provider_timeout:g} + {attempts - 1} × {backoff_max:g} = {worst:g})."
        )
    if not provider_timeout <= job_deadline < task_timeout:
        raise ImproperlyConfigured(
            "PROVIDER_JOB_DEADLINE_SECONDS must be at least PROVIDER_TIMEOUT_SECONDS and below JOB_TIMEOUT_SECONDS."
        )
    if task_timeout >= broker_retry:
        raise ImproperlyConfigured(
            f"Q_RETRY_SECONDS ({broker_retry}) must be above JOB_TIMEOUT_SECONDS ({task_timeout}), or the broker "
            "hands a running job to a second worker."
        )
    if heartbeat >= stale_after:
        raise ImproperlyConfigured(
            f"JOB_HEARTBEAT_SECONDS ({heartbeat}) must be below JOB_STALE_AFTER_SECONDS ({stale_after}), or every "
            "running job looks dead."
        )


def redis_url(url: str) -> str:
    """The broker URL with socket timeouts, so a hung or unreachable Redis fails a call instead of
    holding it forever (blocking reads wait 1 s, well inside the read timeout)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}socket_connect_timeout=3&socket_timeout=10"


def check_redis(url: str, *, secret_key_from_env: str) -> None:
    """A Redis broker is shared by hosts: they must sign tasks with one key, and it must answer."""
    import redis

    if not secret_key_from_env:
        raise ImproperlyConfigured(
            "Q_BROKER=redis needs SECRET_KEY set in the environment, the same on every host: django-q2 signs "
            "tasks with it, and a host with a key of its own drops every task signed elsewhere."
        )
    parts = urlsplit(url)
    where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"  # never the password
    try:
        redis.from_url(redis_url(url)).ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"Q_BROKER=redis, but Redis at {where} does not answer ({type(exc).__name__}): start it or fix REDIS_URL."
        ) from None
