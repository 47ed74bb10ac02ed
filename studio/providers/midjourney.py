"""Midjourney through a midjourney-proxy server (the open-source bridge to a Discord account).

Imagine is submitted with the prompt's parameters as `--` flags, polled with its progress, and
the 2x2 grid is stored together with its four quadrants. U1-U4 / V1-V4 run as follow-up jobs:
through the task's buttons (`/mj/submit/action`) where the proxy has them, otherwise through
`/mj/submit/change`. Results are downloaded by the server (studio.downloads)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from studio import downloads, imaging
from studio.catalog import Operation
from studio.providers import http
from studio.providers.base import (
    Check,
    ErrorKind,
    GeneratedImage,
    Progress,
    ProviderError,
    ProviderResult,
    keep_going,
    retry_after,
)
from studio.specs import Followup, ImageRequest

log = logging.getLogger(__name__)
LABEL = "midjourney-proxy"
POLL_SECONDS = 1.0
CHECK_SECONDS = 5.0
ACCEPTED = {1, 21, 22}  # submitted, already exists, queued
QUEUE_FULL = 23
# How long to wait when the proxy says its queue is full (code 23) without a Retry-After.
QUEUE_FULL_SECONDS = 30.0
# MODAL: the C# fork's task waits for a confirmation in Discord (a remix, a region edit) that only
# a person there can give: it never finishes by itself, so it ends the wait.
FINAL = {"SUCCESS", "FAILURE", "CANCEL", "MODAL"}
CDN_HOSTS = ("cdn.discordapp.com", "media.discordapp.net", "*.discordapp.net", "*.discordapp.com")
ACTION = re.compile(r"^([UV])([1-4])$")
PERCENT = re.compile(r"(\d+)")


def prompt_with_parameters(request: ImageRequest) -> str:
    """The prompt with Midjourney's flags at the end, from the form's pickers."""
    options = request.options
    parts = [request.prompt.strip()]
    parts.append(f"--ar {request.model.aspect_for(request.size)}")
    parts.append(f"--v {request.model.wire.version}")
    parts.append(f"--q {request.quality}")
    parts.append(f"--stylize {options.get('stylize', 100)}")
    if options.get("chaos"):
        parts.append(f"--chaos {options['chaos']}")
    if options.get("weird"):
        parts.append(f"--weird {options['weird']}")
    if options.get("style_raw"):
        parts.append("--style raw")
    if options.get("tile"):
        parts.append("--tile")
    parts.append(f"--seed {request.seed}")
    if request.negative_prompt:
        parts.append(f"--no {request.negative_prompt.strip()}")
    return " ".join(parts)


class Proxy:
    """One midjourney-proxy server: its base URL and the process's session for its secret."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base = base_url.rstrip("/")
        self.session = http.session(("mj-api-secret", secret)) if secret else http.session()

    def send(self, method: str, path: str, *, timeout: float, **kwargs: Any) -> requests.Response:
        return http.send(self.session, method, self.base + path, provider=LABEL, timeout=timeout, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[dict[str, Any], Mapping[str, str]]:
        """The proxy's JSON answer and its headers. Refusals carry the proxy's `code` (the C# fork
        with HTTP 400/404, the original with 200) and are returned for the caller to read."""
        response = self.send(method, path, timeout=settings.PROVIDER_TIMEOUT_SECONDS, **kwargs)
        if response.status_code < 400:
            return http.json_object(response, LABEL), response.headers
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (400, 404) and isinstance(body, dict) and isinstance(body.get("code"), int):
            return body, response.headers
        raise _error(response, body)

    def submit(self, path: str, payload: dict[str, Any]) -> str:
        """Submit a task (the paid part); the proxy's `code` decides, whatever the HTTP status. An
        answer not in the protocol's shape may still have taken the order: unreadable."""
        body, headers = self.call("POST", path, json=payload)
        code = body.get("code")
        if not isinstance(code, int):
            raise http.unreadable(LABEL)
        description = _text(body.get("description")) or "The midjourney-proxy refused the task."
        if code in ACCEPTED:
            result = body.get("result")
            if not isinstance(result, str) or not result:
                raise http.unreadable(LABEL)
            return result
        if code == 24:
            properties = body.get("properties")
            word = _text(properties.get("bannedWord")) if isinstance(properties, dict) else ""
            raise ProviderError(
                ErrorKind.CONTENT_POLICY, f"Midjourney bans a word in the prompt{f': {word}' if word else ''}."
            )
        if code == QUEUE_FULL:
            wait = retry_after(headers)
            raise ProviderError(
                ErrorKind.RATE_LIMITED,
                f"Midjourney's queue is full: {description}",
                retry_after=QUEUE_FULL_SECONDS if wait is None else wait,
            )
        if code == 4:
            raise ProviderError(ErrorKind.INVALID_REQUEST, description)
        raise ProviderError(ErrorKind.UNAVAILABLE, description)

    def fetch(self, task_id: str) -> dict[str, Any]:
        """The task, its fields checked: what the poll and the result read is there, as text (a
        broken answer is unreadable, so it is fetched again, never bought again)."""
        task, _ = self.call("GET", f"/mj/task/{task_id}/fetch")
        status = task.get("status")
        if status is None and isinstance(task.get("code"), int):  # the proxy does not know the task (any more)
            raise http.gone(LABEL, task_id, _text(task.get("description")) or "the proxy lost the task")
        if not isinstance(status, str) or not all(
            task.get(name) is None or isinstance(task[name], str) for name in ("imageUrl", "failReason", "action")
        ):
            raise http.unreadable(LABEL)
        if status == "SUCCESS" and not task.get("imageUrl"):
            raise http.unreadable(LABEL)  # done but not readable yet: fetched again, never bought again
        buttons = task.get("buttons")
        task["buttons"] = [b for b in buttons if isinstance(b, dict)] if isinstance(buttons, list) else []
        return task

    def wait(self, task_id: str, progress: Progress) -> dict[str, Any]:
        # The proxy has no cancel call: on the user's cancel the task is simply not fetched.
        shown = [""]

        def fetch() -> dict[str, Any]:
            task = self.fetch(task_id)
            url = str(task.get("imageUrl") or "")
            if task["status"] == "IN_PROGRESS" and url and url != shown[0]:
                shown[0] = url
                if preview := self.progress_image(url):
                    progress(task_id, _percent(task), preview=preview)
            return task

        task = http.poll(
            fetch,
            provider=LABEL,
            deadline=time.monotonic() + settings.PROVIDER_JOB_DEADLINE_SECONDS,
            progress=progress,
            provider_job_id=task_id,
            interval=POLL_SECONDS,
            is_done=lambda t: t["status"] in FINAL,
            percent=_percent,
        )
        if task["status"] == "MODAL":
            raise ProviderError(
                ErrorKind.INVALID_REQUEST,
                "Midjourney is waiting for someone to confirm this task in Discord; confirm it there, or change "
                "the prompt.",
            )
        if task["status"] != "SUCCESS":
            reason = task.get("failReason") or f"Midjourney ended the task ({task['status'].lower()})."
            banned = any(w in reason.lower() for w in ("banned", "moderation", "blocked"))
            raise ProviderError(ErrorKind.CONTENT_POLICY if banned else ErrorKind.INVALID_REQUEST, reason)
        return task

    def image(self, task: dict[str, Any]) -> bytes:
        url = str(task.get("imageUrl") or "")
        return downloads.download(url, allowed_hosts=(*CDN_HOSTS, urlsplit(self.base).hostname or ""))

    def progress_image(self, url: str) -> bytes | None:
        """Discord's progress image while a task renders (free: it is what Discord shows), or None
        when it cannot be fetched — it is only a preview, the task goes on (so it is tried once)."""
        try:
            return downloads.download(url, allowed_hosts=(*CDN_HOSTS, urlsplit(self.base).hostname or ""), attempts=1)
        except (downloads.DownloadRefused, ProviderError) as exc:
            log.info("%s: no progress image (%s)", LABEL, exc)
            return None


def _proxy() -> Proxy:
    conf = settings.PROVIDER_SETTINGS["midjourney"]
    return Proxy(conf["base_url"], conf["api_key"])


def _percent(task: dict[str, Any]) -> int | None:
    match = PERCENT.match(str(task.get("progress") or ""))
    return int(match.group(1)) if match else None


def quadrants(grid: bytes) -> list[bytes]:
    """The four images of a 2x2 grid: top left, top right, bottom left, bottom right (U1-U4).
    Decoded with the limits every image gets (pixel cap, bomb check; bytes capped as the download
    was), so a hostile proxy's answer fails the job with ImageRejected instead of filling memory."""
    img = imaging.decode(grid, max_bytes=settings.DOWNLOAD_MAX_BYTES).convert("RGB")
    w, h = img.width // 2, img.height // 2
    return [imaging.png_bytes(img.crop((x, y, x + w, y + h))) for y in (0, h) for x in (0, w)]


def _follow_up(proxy: Proxy, followup: Followup) -> str:
    """Submit U/V n on the parent task: its button if it has one, else /submit/change."""
    parent, action = followup.task_id, followup.action
    match = ACTION.match(action)
    if not match:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"Unknown Midjourney action {action}.")
    button = next((b for b in followup.buttons if b.get("label") == action), None)
    if button and button.get("customId"):
        return proxy.submit("/mj/submit/action", {"customId": button["customId"], "taskId": parent})
    change = "UPSCALE" if match.group(1) == "U" else "VARIATION"
    return proxy.submit("/mj/submit/change", {"taskId": parent, "action": change, "index": int(match.group(2))})


def generate(request: ImageRequest, progress: Progress = keep_going) -> ProviderResult:
    proxy = _proxy()
    if request.followup is not None:
        task_id = _follow_up(proxy, request.followup)
    elif request.operation == Operation.GENERATE:
        task_id = proxy.submit("/mj/submit/imagine", {"prompt": prompt_with_parameters(request), "base64Array": []})
    else:
        raise ProviderError(ErrorKind.INVALID_REQUEST, "Midjourney can only vary or upscale its own grids.")
    return _collect(proxy, request, task_id, progress)


def resume(request: ImageRequest, provider_job_id: str, progress: Progress = keep_going) -> ProviderResult:
    """The result of a task submitted earlier (by a worker that died): fetched, not submitted again."""
    return _collect(_proxy(), request, provider_job_id, progress)


def _collect(proxy: Proxy, request: ImageRequest, task_id: str, progress: Progress) -> ProviderResult:
    task = proxy.wait(task_id, progress)
    data = proxy.image(task)
    usage = {"task_id": task_id, "action": task.get("action"), "buttons": task.get("buttons") or []}
    if request.operation == Operation.UPSCALE:
        return ProviderResult(images=[GeneratedImage(data, seed=request.seed)], provider_job_id=task_id, usage=usage)
    images = [GeneratedImage(data, seed=request.seed)] + [GeneratedImage(q, seed=request.seed) for q in quadrants(data)]
    return ProviderResult(images=images, provider_job_id=task_id, usage={**usage, "grid": True})


def _error(response: requests.Response, body: Any) -> ProviderError:
    """The error for a proxy's error answer (one without a protocol `code` to read)."""
    if response.status_code in (401, 403):
        message = "check MIDJOURNEY_PROXY_SECRET"  # the C# fork answers 401 with an empty body
    else:
        message = _text(body.get("description")) if isinstance(body, dict) else ""
    return http.error_for_status(LABEL, response.status_code, message, response.headers, credential="secret")


def _text(value: Any) -> str:
    """A field the proxy should send as text; anything else reads as nothing."""
    return value if isinstance(value, str) else ""


def check() -> Check:
    """GET /mj/task/list: the proxy's cheapest call that needs the secret."""
    proxy = _proxy()
    try:
        response = proxy.send("GET", "/mj/task/list", timeout=CHECK_SECONDS)
        if response.status_code >= 400:
            raise _error(response, None)
    except ProviderError as exc:
        return Check(False, exc.message)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), int):  # the original proxy refuses with HTTP 200
        return Check(False, f"The proxy refused: {_text(body.get('description')) or body['code']}.")
    return Check(True, "Reachable; the secret works.")
