"""Log-in lock-outs (django-axes): the address and user name a failure counts under, until when
a username is locked out from an address, the message and 429 answer the login page gives, and the
staff's list and unlock."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import Max, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import dateformat, timezone

from studio import params

# User names are at most 150 characters (Django's User); axes stores what it is given in a
# varchar(255), and PostgreSQL cannot store a NUL.
USERNAME_MAX = 150


def client_address(request: HttpRequest) -> str | None:
    """The address a log-in comes from (AXES_CLIENT_IP_CALLABLE). Behind TRUSTED_PROXY_COUNT reverse
    proxies, each appending the address it was connected from to X-Forwarded-For, it is the one the
    outermost proxy appended: that many entries from the right. Entries further left are the
    client's own to write and are never read; without trusted proxies the header is ignored."""
    remote = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if not count:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    # Fewer entries than proxies: the request came in past the outer ones, and the left-most entry
    # is still a trusted proxy's.
    hop = hops[-count] if len(hops) >= count else hops[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return remote  # no header, or a proxy that does not write plain addresses


def username_of(request: HttpRequest, credentials: dict | None = None) -> str:
    """The user name a log-in attempt is counted under (AXES_USERNAME_CALLABLE): as typed, less
    control characters, cut to the longest a user name can be."""
    typed = (credentials or {}).get("username") or request.POST.get("username", "")
    return params.text(str(typed), USERNAME_MAX)


@dataclass(frozen=True)
class Lockout:
    username: str
    ip_address: str | None
    failures: int
    until: datetime


def _recent(**filters: object) -> QuerySet[AccessAttempt]:
    """Failures that still count: those whose last try is within the cool-off."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(attempt_time__gte=since, **filters)


def locked_until(*, username: str, ip_address: str | None) -> datetime | None:
    """When the lock-out of this username from this address ends, or None if it is not locked."""
    found = _recent(username=username, ip_address=ip_address).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time")
    )
    if (found["failures"] or 0) < settings.AXES_FAILURE_LIMIT:
        return None
    return found["last"] + settings.AXES_COOLOFF_TIME


def _seconds_left(until: datetime) -> int:
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


def _in_minutes(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"in {minutes} minute{'' if minutes == 1 else 's'}"


def message(*, username: str, ip_address: str | None) -> str:
    until = locked_until(username=username, ip_address=ip_address)
    when = (
        f"at {dateformat.format(timezone.localtime(until), 'H:i T')} ({_in_minutes(_seconds_left(until))})"
        if until
        else _in_minutes(settings.AXES_COOLOFF_TIME.total_seconds())
    )
    return (
        f"Too many failed log-ins for “{username}” from your address: this log-in is locked. "
        f"Try again {when}, or ask a staff member to unlock it."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login page LoginForm already rendered with the lock-out
    message, answered 429 with Retry-After."""
    username = (credentials or {}).get("username") or ""
    ip_address = getattr(request, "axes_ip_address", None)
    response = original_response or HttpResponse(
        message(username=username, ip_address=ip_address), content_type="text/plain; charset=utf-8"
    )
    response.status_code = 429
    if until := locked_until(username=username, ip_address=ip_address):
        response["Retry-After"] = str(_seconds_left(until))
    return response


def current() -> list[Lockout]:
    """Every username and address locked out now, the latest first."""
    rows = (
        _recent()
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-last")
    )
    return [
        Lockout(row["username"] or "", row["ip_address"], row["failures"], row["last"] + settings.AXES_COOLOFF_TIME)
        for row in rows
    ]


def unlock(*, username: str, ip_address: str | None) -> int:
    """Forget this username's failures from this address (all addresses when None); returns how
    many records were removed."""
    if not username:
        return 0  # axes would read "no username, no address" as "everyone"
    return reset(ip=ip_address or None, username=username)


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
