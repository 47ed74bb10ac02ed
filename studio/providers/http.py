"""The one HTTP layer of the providers: status → error kind, Retry-After, and the poll loop.

Each provider module turns its API's answers into calls of these functions and keeps only its own
quirks (where a refusal is written, which status means "still working"). The SDK-based providers
(OpenAI, Replicate) use `error_for_status` and `poll`; the `requests`-based ones (Stability,
midjourney-proxy) also use `session`, `send` and `json_object`.
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable, Mapping
from time import monotonic, sleep
from typing import Any, TypeVar

import httpx
import requests
import urllib3

from studio.providers.base import Canceled, ErrorKind, Progress, ProviderError, retry_after

log = logging.getLogger(__name__)

T = TypeVar("T")

# A poll that failed for a passing reason waits interval × 2, × 4 ... up to this many intervals.
MAX_BACKOFF_INTERVALS = 8


def error_for_status(
    provider: str,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    refused: bool = False,
    credential: str = "API key",
) -> ProviderError:
    """The error for a provider's non-2xx answer, with the provider's own message.

    `refused` is the provider's word that its moderation refused the request: each writes that in
    its own way (OpenAI's `moderation_blocked` code, Stability's 403 `content_moderation`).
    `credential` names what a 401/403 refused, in the words of the provider's settings."""
    message = message or f"HTTP {status}"
    headers = headers or {}
    if refused:
        return ProviderError(ErrorKind.CONTENT_POLICY, message)
    if status in (401, 403):
        return ProviderError(ErrorKind.AUTH, f"{provider} refused the {credential}: {message}")
    if status == 429:
        return ProviderError(ErrorKind.RATE_LIMITED, message, retry_after=retry_after(headers))
    if status in (408, 409) or status >= 500:
        return ProviderError(
            ErrorKind.UNAVAILABLE,
            f"{provider} is having trouble ({status}): {message}",
            retry_after=retry_after(headers),
        )
    return ProviderError(ErrorKind.INVALID_REQUEST, message)


def unreadable(provider: str) -> ProviderError:
    """A 2xx answer whose body is not what the protocol promises (an HTML error page, nothing, a
    field missing). A poll just asks again; after a paid call the order may have been taken, so
    the job runner does not buy it a second time."""
    return ProviderError(ErrorKind.UNAVAILABLE, f"{provider} sent a response Atelier could not read.", may_be_paid=True)


def unreachable(provider: str, exc: BaseException) -> ProviderError:
    """A broken connection: safe to try again when the request never left; once it had, the
    provider may have the order."""
    if never_sent(exc):
        return ProviderError(ErrorKind.UNAVAILABLE, f"Could not reach {provider}.")
    return ProviderError(
        ErrorKind.UNAVAILABLE, f"The connection to {provider} broke before it answered.", may_be_paid=True
    )


def too_slow(provider: str, exc: BaseException) -> ProviderError:
    """A timeout: of the connection (nothing sent), or of the answer (the order may be taken)."""
    if never_sent(exc):
        return ProviderError(ErrorKind.TIMEOUT, f"{provider} did not take the connection in time.")
    return ProviderError(ErrorKind.TIMEOUT, f"{provider} did not answer in time.", may_be_paid=True)


# Failures that happen before a request leaves: no connection, no name, refused.
NOT_CONNECTED = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    requests.exceptions.ConnectTimeout,
    urllib3.exceptions.NewConnectionError,  # NameResolutionError and connect timeouts too
    ConnectionRefusedError,
    socket.gaierror,
)


def never_sent(exc: BaseException | None) -> bool:
    """Whether a client error happened before the request could reach the provider, looking
    through the chain the SDKs wrap it in (openai → httpx; requests → urllib3's MaxRetryError)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, NOT_CONNECTED):
            return True
        reason = getattr(exc, "reason", None)
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__cause__ or (reason if isinstance(reason, BaseException) else None) or wrapped or exc.__context__
    return False


# --- requests-based providers ---------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def session(*headers: tuple[str, str]) -> requests.Session:
    """One session (and its pool of open connections) per configuration, for the whole process."""
    shared = requests.Session()
    shared.headers.update(dict(headers))
    return shared


def send(
    shared: requests.Session, method: str, url: str, *, provider: str, timeout: float, **kwargs: Any
) -> requests.Response:
    """One HTTP call; a lost connection or a slow answer becomes the provider's error."""
    try:
        return shared.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        raise too_slow(provider, exc) from exc
    except requests.RequestException as exc:
        raise unreachable(provider, exc) from exc


def json_object(response: requests.Response, provider: str) -> dict[str, Any]:
    """The JSON object of a successful answer; anything else (an empty body too) is unreadable."""
    try:
        body = response.json()
    except ValueError:
        raise unreadable(provider) from None
    if not isinstance(body, dict) or not body:
        raise unreadable(provider)
    return body


# --- polling ------------------------------------------------------------------------------------


def poll(
    fetch: Callable[[], T],
    *,
    provider: str,
    deadline: float,
    progress: Progress,
    provider_job_id: str,
    interval: float,
    is_done: Callable[[T], bool],
    percent: Callable[[T], int | None] = lambda state: None,
    cancel: Callable[[], object] | None = None,
    initial: T | None = None,
) -> T:
    """Fetch a paid provider-side job's state until `is_done`, and return that state.

    Every turn reports progress; when the user cancels, or `deadline` (time.monotonic) passes, the
    job is stopped where the API can (`cancel`) before Canceled or a timeout is raised. A fetch that
    fails for a passing reason (5xx, 429, a lost connection, an unreadable answer) is tried again
    with backoff that honours Retry-After: the job was bought once and is never bought again here.
    `initial` is a state already known (from the create call), looked at before the first fetch."""
    state, failures = initial, 0
    wait = 0.0 if initial is None else interval
    while True:
        if state is not None and is_done(state):
            progress(provider_job_id, percent(state))
            return state
        if not progress(provider_job_id, None if state is None else percent(state)):
            _stop(cancel, provider, provider_job_id)
            raise Canceled
        left = deadline - monotonic()
        if left <= 0:
            _stop(cancel, provider, provider_job_id)
            # The job was bought: waiting again is the user's call, not a second purchase.
            raise ProviderError(ErrorKind.TIMEOUT, f"{provider} did not finish in time.", may_be_paid=True)
        sleep(min(wait, left))
        try:
            state = fetch()
        except ProviderError as exc:
            if not exc.kind.retryable:
                raise
            failures += 1
            wait = max(exc.retry_after or 0.0, interval * min(2**failures, MAX_BACKOFF_INTERVALS))
            log.info("%s job %s: a poll failed (%s); next try in %.1fs", provider, provider_job_id, exc.message, wait)
        else:
            failures, wait = 0, interval


def _stop(cancel: Callable[[], object] | None, provider: str, provider_job_id: str) -> None:
    """Tell the provider to stop the job, where its API can; a failure to do so is only logged."""
    if cancel is None:
        return
    try:
        cancel()
    except ProviderError as exc:
        log.warning("%s job %s: could not cancel it: %s", provider, provider_job_id, exc.message)
