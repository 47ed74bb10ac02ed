"""midjourney-proxy emulator: imagine, task fetch with progress, buttons (/submit/action) or
/submit/change, and the grid images. `flavor` picks the original Java proxy (HTTP 200 for every
answer, no buttons) or the widely used C# fork (400/404 statuses, 401 with an empty body, buttons)."""

from __future__ import annotations

import io
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from PIL import Image

from studio.providers import offline
from tests.emulators.base import Emulator, Request

ASPECTS = {"1:1": (1024, 1024), "16:9": (1456, 816), "9:16": (816, 1456), "3:2": (1344, 896), "2:3": (896, 1344),
           "4:3": (1232, 928), "3:4": (928, 1232)}  # fmt: skip


@dataclass
class Task:
    id: str
    action: str
    prompt: str
    started: float
    duration: float
    parent: str | None = None
    index: int = 0
    image: bytes = b""
    preview: bytes = b""  # the blurry look Discord shows while it renders


class MidjourneyProxyEmulator(Emulator):
    def __init__(self, secret: str = "mj-secret", flavor: str = "csharp", duration: float = 0.4, port: int = 0) -> None:
        super().__init__(port)
        self.secret = secret
        self.flavor = flavor
        self.duration = duration
        self.tasks: dict[str, Task] = {}
        self.task_overrides: dict[str, Any] = {}  # fields every task answer has instead (odd shapes)

    def _reply(self, code: int, description: str, result: str | None = None, properties: dict | None = None):
        http = 200
        if self.flavor == "csharp" and code in (4, 24):
            http = 400
        elif self.flavor == "csharp" and code == 3:
            http = 404
        return http, {"code": code, "description": description, "result": result, "properties": properties or {}}, {}

    def route(self, request: Request):
        if request.path.startswith("/attachments/progress/"):
            task = self.tasks.get(request.path.removeprefix("/attachments/progress/").split("/")[0])
            return (200, task.preview, {"Content-Type": "image/webp"}) if task and task.preview else (404, b"", {})
        if request.path.startswith("/attachments/"):
            task = self.tasks.get(request.path.removeprefix("/attachments/").removesuffix(".png"))
            return (200, task.image, {"Content-Type": "image/png"}) if task and task.image else (404, b"", {})
        if self.secret and request.headers.get("mj-api-secret") != self.secret:
            return (401, b"", {}) if self.flavor == "csharp" else (200, {"code": 9, "description": "wrong secret"}, {})
        body = request.json or {}
        if request.path == "/mj/task/list":
            return 200, [self._task(t) for t in self.tasks.values()], {}
        if request.path == "/mj/submit/imagine":
            prompt = str(body.get("prompt") or "").strip()
            if not prompt:
                return self._reply(4, "prompt can't be empty")
            if "forbidden" in prompt.lower():
                return self._reply(24, "may contains sensitive words", properties={"bannedWord": "forbidden"})
            return self._submit("IMAGINE", prompt)
        if request.path == "/mj/submit/action":
            if self.flavor != "csharp":
                return 404, b"", {}
            m = re.match(r"MJ::JOB::(upsample|variation)::([1-4])::", str(body.get("customId", "")))
            parent = self.tasks.get(str(body.get("taskId")))
            if not m or parent is None:
                return self._reply(3, "task or button not found")
            action = "UPSCALE" if m.group(1) == "upsample" else "VARIATION"
            return self._submit(action, parent.prompt, parent=parent.id, index=int(m.group(2)))
        if request.path == "/mj/submit/change":
            parent = self.tasks.get(str(body.get("taskId")))
            if parent is None or body.get("action") not in ("UPSCALE", "VARIATION", "REROLL"):
                return self._reply(3, "task not found")
            if not 1 <= int(body.get("index") or 0) <= 4:
                return self._reply(4, "index must be 1-4")
            return self._submit(body["action"], parent.prompt, parent=parent.id, index=int(body["index"]))
        if m := re.fullmatch(r"/mj/task/(\w+)/fetch", request.path):
            task = self.tasks.get(m.group(1))
            return (200, self._task(task), {}) if task else self._reply(3, "task not found")
        return 404, b"", {}

    def _submit(self, action: str, prompt: str, parent: str | None = None, index: int = 0):
        task = Task(uuid.uuid4().hex[:16], action, prompt, time.monotonic(), self.duration, parent, index)
        self.tasks[task.id] = task
        return self._reply(1, "Submit success", result=task.id)

    def _render(self, task: Task) -> bytes:
        aspect = re.search(r"--ar (\d+:\d+)", task.prompt)
        width, height = ASPECTS.get(aspect.group(1) if aspect else "1:1", (1024, 1024))
        seed = int(re.search(r"--seed (\d+)", task.prompt).group(1)) if "--seed" in task.prompt else 0
        text = task.prompt.split(" --")[0]
        if task.action == "UPSCALE":
            img = offline.render(text, "", width, height, seed + task.index, "draft")
        else:  # a 2x2 grid of four takes
            img = Image.new("RGB", (width * 2, height * 2))
            for i in range(4):
                tile = offline.render(text, "", width, height, seed + 10 * task.index + i, "draft")
                img.paste(tile, ((i % 2) * width, (i // 2) * height))
        out = io.BytesIO()
        img.save(out, "PNG")
        return out.getvalue()

    def _progress_image(self, task: Task) -> bytes:
        img = Image.open(io.BytesIO(self._render(task)))
        blurred = img.resize((max(1, img.width // 16), max(1, img.height // 16)))
        small = blurred.resize((img.width // 4, img.height // 4))
        out = io.BytesIO()
        small.save(out, "WEBP")
        return out.getvalue()

    def _task(self, task: Task) -> dict[str, Any]:
        elapsed = time.monotonic() - task.started
        done = elapsed >= task.duration
        if done and not task.image:
            task.image = self._render(task)
        status = "SUCCESS" if done else ("IN_PROGRESS" if elapsed > task.duration / 4 else "SUBMITTED")
        percent = 100 if done else int(100 * elapsed / task.duration)
        image_url = f"{self.url}/attachments/{task.id}.png" if done else None
        if not done and percent >= 50:  # past half way the proxy shows Discord's progress image
            if not task.preview:
                task.preview = self._progress_image(task)
            image_url = f"{self.url}/attachments/progress/{task.id}/{percent // 25}.webp"
        body: dict[str, Any] = {
            "id": task.id, "action": task.action, "status": status, "prompt": task.prompt, "promptEn": task.prompt,
            "progress": f"{percent}%", "failReason": None, "imageUrl": image_url,
            "submitTime": 0, "startTime": 0, "finishTime": 0 if not done else 1,
        }  # fmt: skip
        if self.flavor == "csharp" and done and task.action != "UPSCALE":
            body["buttons"] = [
                {"customId": f"MJ::JOB::{kind}::{n}::{task.id}", "label": f"{label}{n}", "emoji": ""}
                for kind, label in (("upsample", "U"), ("variation", "V"))
                for n in range(1, 5)
            ]
        return {**body, **self.task_overrides}
