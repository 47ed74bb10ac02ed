"""`/healthz` for load balancers and monitoring: can this process reach the database, the broker
and media storage? JSON, 200 when all three answer, 503 otherwise; no login, no secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.brokers import get_broker

from studio import media

log = logging.getLogger(__name__)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    get_broker().ping()


# Each check returns None or raises when it fails; media.probe returns its reason instead.
CHECKS: dict[str, Callable[[], str | None]] = {"database": _database, "broker": _broker, "storage": media.probe}


def _outcome(name: str, check: Callable[[], str | None]) -> str:
    """`ok`, or what failed: the storage's reason, or only the kind of error for the rest (their
    text may name hosts or users); the full error goes to the log."""
    try:
        reason = check()
    except Exception as exc:
        log.warning("health check %s failed", name, exc_info=True)
        return f"unreachable ({type(exc).__name__})"
    return reason or "ok"


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {name: _outcome(name, check) for name, check in CHECKS.items()}
    healthy = all(outcome == "ok" for outcome in checks.values())
    return JsonResponse({"status": "ok" if healthy else "failing", "checks": checks}, status=200 if healthy else 503)
