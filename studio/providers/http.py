"""The one HTTP layer of the providers: status → error kind, Retry-After, and the poll loop.

Each provider module turns its API's answers into calls of these functions and keeps only its own
quirks (where a refusal is written, which status means "still working"). The SDK-based providers
(OpenAI, Replicate) use `error_for_status` and `poll`; the `requests`-based ones (Stability,
midjourney-proxy) also use `session`, `send` and `json_object`.
"""

from __future__ import annotations

import functools
import logging
import math
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


class StatusError(ProviderError):
    """A provider's non-2xx answer; `status` is its HTTP status (a poll reads it: studio.providers
    .http.poll)."""

    def __init__(self, kind: ErrorKind, message: str, retry_after: float | None = None, *, status: int) -> None:
        super().__init__(kind, message, retry_after)
        self.status = status


class AfterPurchase(ProviderError):
    """A failure once the provider-side job was bought (its id reported through progress).
    `result_held` says whether that job may still hold, or come to hold, the paid result, for
    Collect result to fetch without buying it again; False when the provider's answer is final
    (it canceled the job, or no longer knows it). The runner records it on the job (Job.result_held)
    and says what Retry does from it."""

    def __init__(self, kind: ErrorKind, message: str, *, result_held: bool) -> None:
        super().__init__(kind, message, may_be_paid=True)
        self.result_held = result_held


def gone(provider: str, provider_job_id: str, detail: str) -> AfterPurchase:
    """The provider no longer knows a job it was paid for: there is nothing left to collect."""
    return AfterPurchase(
        ErrorKind.INVALID_REQUEST,
        f"{provider} no longer holds job {provider_job_id} ({detail.rstrip('.')}).",
        result_held=False,
    )


def error_for_status(
    provider: str,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    refused: bool = False,
    credential: str = "API key",
) -> StatusError:
    """The error for a provider's non-2xx answer, with the provider's own message.

    `refused` is the provider's word that its moderation refused the request: each writes that in
    its own way (OpenAI's `moderation_blocked` code, Stability's 403 `content_moderation`).
    `credential` names what a 401/403 refused, in the words of the provider's settings."""
    message = message or f"HTTP {status}"
    headers = headers or {}
    if refused:
        return StatusError(ErrorKind.CONTENT_POLICY, message, status=status)
    if status in (401, 403):
        return StatusError(ErrorKind.AUTH, f"{provider} refused the {credential}: {message}", status=status)
    if status == 429:
        return StatusError(ErrorKind.RATE_LIMITED, message, retry_after(headers), status=status)
    if status in (408, 409) or status >= 500:
        return StatusError(
            ErrorKind.UNAVAILABLE,
            f"{provider} is having trouble ({status}): {message}",
            retry_after(headers),
            status=status,
        )
    return StatusError(ErrorKind.INVALID_REQUEST, message, status=status)


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


class Unfinished(AfterPurchase):
    """A paid provider-side job that poll stopped waiting for at its deadline. The message says
    whether the job was canceled (nothing held) or left running (its result held, to collect)."""


def job_deadline(progress: Progress) -> float:
    """When the job behind `progress` needs the provider's answer by (time.monotonic): the job
    runner's progress carries a `deadline` (studio.tasks.JobProgress), so a poll ends in time for
    the job to record its outcome before the worker's own timeout. A caller without one: never."""
    deadline = getattr(progress, "deadline", None)
    return float(deadline) if isinstance(deadline, int | float) else math.inf


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

    Every turn reports progress; when the user cancels, the job is stopped where the API can
    (`cancel`) and Canceled is raised. A fetch that fails for a passing reason (5xx, 429, a lost
    connection, an unreadable answer) is tried again with backoff that honours Retry-After: the job
    was bought once and is never bought again here. At `deadline` (time.monotonic), or the job's
    own (`job_deadline`) if sooner, Unfinished is raised: a job known to be still running is
    canceled where the API can; one whose state is unknown (the last fetch failed) is left
    running, since it may have finished and been paid for. A fetch the provider refuses for good
    (a key rotated meanwhile: 401/403) leaves the job held for Collect result, unless it no longer
    knows the job (404/410). `initial` is a state already known (from the create call), looked at
    before the first fetch."""
    deadline = min(deadline, job_deadline(progress))
    started = monotonic()
    state, failures = initial, 0
    # Why the last fetch failed: the job's state is then unknown. None once an answer was read.
    failure: ProviderError | None = None
    known = initial is not None
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
            raise _out_of_time(provider, provider_job_id, monotonic() - started, cancel, known, failure)
        sleep(min(wait, left))
        try:
            state = fetch()
        except ProviderError as exc:
            if not exc.kind.retryable:
                if isinstance(exc, StatusError) and exc.kind != ErrorKind.CONTENT_POLICY:
                    raise _refused_poll(provider, provider_job_id, exc) from exc
                raise  # the provider's verdict on the job (its moderation refused the result): final
            failures, failure, known = failures + 1, exc, False
            wait = max(exc.retry_after or 0.0, interval * min(2**failures, MAX_BACKOFF_INTERVALS))
            log.info("%s job %s: a poll failed (%s); next try in %.1fs", provider, provider_job_id, exc.message, wait)
        else:
            failures, failure, known, wait = 0, None, True, interval


def _refused_poll(provider: str, provider_job_id: str, refusal: StatusError) -> AfterPurchase:
    """The provider refused to say how a job it was paid for is going. Asking again later may work
    (a new key), so the result is held; unless it says it no longer knows the job."""
    if refusal.status in (404, 410):
        return gone(provider, provider_job_id, refusal.message)
    return AfterPurchase(
        refusal.kind, f"{refusal.message} (asked how job {provider_job_id} is going)", result_held=True
    )


LEFT_RUNNING = "It may still finish the image and charge for it, so Atelier did not try again."


def _out_of_time(
    provider: str,
    provider_job_id: str,
    waited: float,
    cancel: Callable[[], object] | None,
    known: bool,
    failure: ProviderError | None,
) -> Unfinished:
    """The error for a paid job still unfinished at the deadline. Only a job known to be running is
    canceled: one whose last fetch failed may have finished (and been charged) meanwhile."""
    if not known:
        last = f" The last answer was: {failure.message.rstrip('.')}." if failure else ""
        return Unfinished(
            failure.kind if failure else ErrorKind.TIMEOUT,
            f"{provider} could not be asked how job {provider_job_id} is going before Atelier stopped waiting "
            f"({waited:.0f} s).{last} {LEFT_RUNNING}",
            result_held=True,
        )
    running = f"{provider} did not finish in time: job {provider_job_id} was still running after {waited:.0f} s"
    if cancel is None:
        return Unfinished(
            ErrorKind.TIMEOUT, f"{running}, and it cannot be stopped from here. {LEFT_RUNNING}", result_held=True
        )
    if problem := _stop(cancel, provider, provider_job_id):
        return Unfinished(
            ErrorKind.TIMEOUT,
            f"{running}, and canceling it failed ({problem.message}). {LEFT_RUNNING}",
            result_held=True,
        )
    # Canceled: it will make nothing, so there is nothing to collect.
    return Unfinished(
        ErrorKind.TIMEOUT,
        f"{running}, so Atelier canceled it (the provider may still charge for the time it ran).",
        result_held=False,
    )


def _stop(cancel: Callable[[], object] | None, provider: str, provider_job_id: str) -> ProviderError | None:
    """Tell the provider to stop the job, where its API can; a failure to do so is logged and
    returned."""
    if cancel is None:
        return None
    try:
        cancel()
    except ProviderError as exc:
        log.warning("%s job %s: could not cancel it: %s", provider, provider_job_id, exc.message)
        return exc
    return None
