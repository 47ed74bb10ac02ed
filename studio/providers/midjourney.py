"""Midjourney through a midjourney-proxy server (the open-source bridge to a Discord account).

Imagine is submitted with the prompt's parameters as `--` flags, polled with its progress, and
the 2x2 grid is stored together with its four quadrants. U1-U4 / V1-V4 run as follow-up jobs:
through the task's buttons (`/mj/submit/action`) where the proxy has them, otherwise through
`/mj/submit/change`. Results are downloaded by the server (studio.downloads)."""

from __future__ import annotations

import io
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from PIL import Image

from studio import catalog, downloads, imaging
from studio.catalog import Operation
from studio.providers.base import (
    Canceled,
    Check,
    ErrorKind,
    GeneratedImage,
    GenerationRequest,
    ProviderError,
    ProviderResult,
)

POLL_SECONDS = 1.0
ACCEPTED = {1, 21, 22}  # submitted, already exists, queued
CDN_HOSTS = ("cdn.discordapp.com", "media.discordapp.net", "*.discordapp.net", "*.discordapp.com")
ACTION = re.compile(r"^([UV])([1-4])$")


def prompt_with_parameters(request: GenerationRequest) -> str:
    """The prompt with Midjourney's flags at the end, from the form's pickers."""
    options = request.options
    parts = [request.prompt.strip()]
    parts.append(f"--ar {catalog.aspect_of(f'{request.width}x{request.height}') or '1:1'}")
    parts.append(f"--v {request.model.provider_params['version']}")
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
    def __init__(self) -> None:
        conf = settings.PROVIDER_SETTINGS["midjourney"]
        self.base = conf["base_url"].rstrip("/")
        self.session = requests.Session()
        if conf["api_key"]:
            self.session.headers["mj-api-secret"] = conf["api_key"]

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(
                method, self.base + path, timeout=settings.PROVIDER_TIMEOUT_SECONDS, **kwargs
            )
        except requests.Timeout as exc:
            raise ProviderError(ErrorKind.TIMEOUT, "The midjourney-proxy did not answer in time.") from exc
        except requests.ConnectionError as exc:
            raise ProviderError(ErrorKind.UNAVAILABLE, "Could not reach the midjourney-proxy server.") from exc
        if response.status_code == 401:
            raise ProviderError(ErrorKind.AUTH, "The midjourney-proxy refused the secret (MIDJOURNEY_PROXY_SECRET).")
        if response.status_code >= 500:
            raise ProviderError(
                ErrorKind.UNAVAILABLE, f"The midjourney-proxy is having trouble ({response.status_code})."
            )
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(
                ErrorKind.UNAVAILABLE, "The midjourney-proxy sent a response Atelier could not read."
            ) from None
        if not isinstance(body, dict):
            raise ProviderError(ErrorKind.UNAVAILABLE, "The midjourney-proxy sent a response Atelier could not read.")
        return body

    def submit(self, path: str, payload: dict[str, Any]) -> str:
        """Submit a task; the proxy's `code` decides, whatever the HTTP status (forks differ)."""
        body = self.call("POST", path, json=payload)
        code = body.get("code")
        description = body.get("description") or "The midjourney-proxy refused the task."
        if code in ACCEPTED and body.get("result"):
            return str(body["result"])
        if code == 24:
            word = (body.get("properties") or {}).get("bannedWord")
            raise ProviderError(
                ErrorKind.CONTENT_POLICY, f"Midjourney bans a word in the prompt{f': {word}' if word else ''}."
            )
        if code == 23:
            raise ProviderError(ErrorKind.RATE_LIMITED, f"Midjourney's queue is full: {description}", retry_after=30)
        if code == 4:
            raise ProviderError(ErrorKind.INVALID_REQUEST, description)
        raise ProviderError(ErrorKind.UNAVAILABLE, description)

    def wait(self, task_id: str, request: GenerationRequest) -> dict[str, Any]:
        deadline = time.monotonic() + settings.PROVIDER_TIMEOUT_SECONDS
        while True:
            task = self.call("GET", f"/mj/task/{task_id}/fetch")
            status = task.get("status")
            percent = re.match(r"(\d+)", str(task.get("progress") or ""))
            if not request.progress(task_id, int(percent.group(1)) if percent else None):
                raise Canceled  # the proxy has no cancel call; the result is simply not fetched
            if status == "SUCCESS":
                return task
            if status in ("FAILURE", "CANCEL"):
                reason = task.get("failReason") or f"Midjourney ended the task ({status.lower()})."
                banned = any(w in reason.lower() for w in ("banned", "moderation", "blocked"))
                raise ProviderError(ErrorKind.CONTENT_POLICY if banned else ErrorKind.INVALID_REQUEST, reason)
            if time.monotonic() > deadline:
                raise ProviderError(ErrorKind.TIMEOUT, "Midjourney did not finish in time.")
            time.sleep(POLL_SECONDS)

    def image(self, task: dict[str, Any]) -> bytes:
        url = str(task.get("imageUrl") or "")
        if not url:
            raise ProviderError(ErrorKind.UNAVAILABLE, "Midjourney finished without an image.")
        return downloads.download(url, allowed_hosts=(*CDN_HOSTS, urlsplit(self.base).hostname or ""))


def quadrants(grid: bytes) -> list[bytes]:
    """The four images of a 2x2 grid: top left, top right, bottom left, bottom right (U1-U4)."""
    img = Image.open(io.BytesIO(grid)).convert("RGB")
    w, h = img.width // 2, img.height // 2
    return [imaging.png_bytes(img.crop((x, y, x + w, y + h))) for y in (0, h) for x in (0, w)]


def _follow_up(proxy: Proxy, request: GenerationRequest) -> str:
    """Submit U/V n on the parent task: its button if it has one, else /submit/change."""
    parent, action = request.options["mj_task"], request.options["mj_action"]
    match = ACTION.match(action)
    if not match:
        raise ProviderError(ErrorKind.INVALID_REQUEST, f"Unknown Midjourney action {action}.")
    button = next((b for b in request.options.get("mj_buttons", []) if b.get("label") == action), None)
    if button and button.get("customId"):
        return proxy.submit("/mj/submit/action", {"customId": button["customId"], "taskId": parent})
    change = "UPSCALE" if match.group(1) == "U" else "VARIATION"
    return proxy.submit("/mj/submit/change", {"taskId": parent, "action": change, "index": int(match.group(2))})


def generate(request: GenerationRequest) -> ProviderResult:
    proxy = Proxy()
    with proxy.session:
        if request.operation == Operation.GENERATE:
            task_id = proxy.submit("/mj/submit/imagine", {"prompt": prompt_with_parameters(request), "base64Array": []})
        elif request.operation in (Operation.UPSCALE, Operation.VARIATION) and "mj_task" in request.options:
            task_id = _follow_up(proxy, request)
        else:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "Midjourney can only vary or upscale its own grids.")
        task = proxy.wait(task_id, request)
        data = proxy.image(task)
    usage = {"task_id": task_id, "action": task.get("action"), "buttons": task.get("buttons") or []}
    if request.operation == Operation.UPSCALE:
        return ProviderResult(images=[GeneratedImage(data, seed=request.seed)], provider_job_id=task_id, usage=usage)
    images = [GeneratedImage(data, seed=request.seed)] + [GeneratedImage(q, seed=request.seed) for q in quadrants(data)]
    return ProviderResult(images=images, provider_job_id=task_id, usage={**usage, "grid": True})


def check() -> Check:
    """GET /mj/task/list: the proxy's cheapest call that needs the secret."""
    proxy = Proxy()
    with proxy.session:
        try:
            response = proxy.session.get(proxy.base + "/mj/task/list", timeout=5)
        except requests.RequestException:
            return Check(False, "Could not reach the midjourney-proxy server.")
    if response.status_code == 401:
        return Check(False, "The proxy refused the secret (MIDJOURNEY_PROXY_SECRET).")
    if response.status_code != 200:
        return Check(False, f"The proxy answered {response.status_code}.")
    return Check(True, "Reachable; the secret works.")
