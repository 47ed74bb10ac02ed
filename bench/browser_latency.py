"""How fast results reach the studio page, in headless Chromium against waitress and a real worker.

For N offline jobs and N jobs of an emulated provider (the OpenAI emulator, GPT Image 1 Mini):
job finished (its `finished_at`) → image in the card's DOM, click → card, click → image; then
the requests an idle studio page makes per second. Usage: python bench/browser_latency.py [N]"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM reads finished_at beside Playwright's loop
import socket
import subprocess
import sys
import time

from harness import ROOT, print_table, setup_django, start_worker, summary

N = int(sys.argv[1]) if len(sys.argv) > 1 else 15
IDLE_SECONDS = 30
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
# Stamps, in epoch milliseconds, when a new card and its first image enter the DOM.
OBSERVER = """() => {
  window.seen = {};
  new MutationObserver(() => {
    for (const card of document.querySelectorAll(".job-card")) {
      const entry = window.seen[card.id] ??= {card: Date.now()};
      if (!entry.image && card.querySelector(".results img, .mj-grid img")) entry.image = Date.now();
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the web server did not start")


def run_jobs(page, base: str, model: str, count: int) -> dict[str, list[float]]:
    from studio.models import Job

    page.goto(f"{base}/")
    page.evaluate(OBSERVER)
    with page.expect_response(lambda response: "/form/model-fields/" in response.url):
        page.select_option("#id_model", model)
    page.wait_for_timeout(300)  # the model's fields settle
    timings: dict[str, list[float]] = {"finished → in DOM": [], "click → card": [], "click → image": []}
    for i in range(count):
        before = set(Job.objects.values_list("pk", flat=True))
        page.fill("#id_prompt", f"benchmark {model} {i}: a lighthouse at dusk")
        clicked = page.evaluate("() => Date.now()")
        page.click("button[type=submit].primary")
        while not (job := Job.objects.exclude(pk__in=before).first()):
            page.wait_for_timeout(20)
        page.wait_for_function(f"() => window.seen['job-{job.pk}']?.image", timeout=60_000)
        job.refresh_from_db()
        stamps = page.evaluate(f"() => window.seen['job-{job.pk}']")
        timings["finished → in DOM"].append(stamps["image"] / 1000 - job.finished_at.timestamp())
        timings["click → card"].append((stamps["card"] - clicked) / 1000)
        timings["click → image"].append((stamps["image"] - clicked) / 1000)
    return timings


def idle_requests_per_second(page, base: str) -> float:
    page.goto(f"{base}/")
    page.wait_for_timeout(1000)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(IDLE_SECONDS * 1000)
    return len(requests) / IDLE_SECONDS


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.emulators.openai_api import OpenAIEmulator

    emulator = OpenAIEmulator().start()
    os.environ.update(OPENAI_API_KEY=emulator.api_key, OPENAI_BASE_URL=f"{emulator.url}/v1", DEBUG="false")
    setup_django()
    from django.contrib.auth import get_user_model
    from playwright.sync_api import sync_playwright

    from studio.management.commands.runstudio import web_command

    get_user_model().objects.create_user(username="bench", password="bench-password-only")
    port = free_port()
    web = subprocess.Popen(web_command(host="127.0.0.1", port=port, threads=8), cwd=ROOT, stderr=subprocess.DEVNULL)
    worker = start_worker(workers=2)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, time.monotonic() + 30)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/account/login/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", "bench-password-only")
            page.click("button.primary")
            page.wait_for_url(f"{base}/")
            rows = []
            for label, model in (("offline", "offline"), ("OpenAI emulator", "gpt-image-1-mini")):
                for metric, values in run_jobs(page, base, model, N).items():
                    s = summary(values)
                    rows.append([label, metric, s["n"], s["p50"], s["p95"], s["max"]])
            idle = idle_requests_per_second(page, base)
            browser.close()
    finally:
        for process in (web, worker):
            process.terminate()
            process.wait(timeout=30)
        emulator.stop()
    print_table("Studio latency in headless Chromium (seconds)", ["jobs", "measure", "n", "p50", "p95", "max"], rows)
    print(f"\nIdle studio page: {idle:.2f} requests/s over {IDLE_SECONDS} s (target: about 1 or fewer)")


if __name__ == "__main__":
    main()
