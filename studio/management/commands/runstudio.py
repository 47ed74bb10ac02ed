"""Run the web server and the django-q2 worker together; Ctrl-C stops both."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def web_command(*, host: str, port: int, threads: int) -> list[str]:
    """The waitress command line. Waitress refuses a body of max-request-body-size bytes or more
    as soon as it reads the Content-Length (413, body unread), so one more than REQUEST_MAX_BYTES
    lets through exactly what Django accepts."""
    return [
        sys.executable,
        "-m",
        "waitress",
        f"--listen={host}:{port}",
        f"--threads={threads}",
        f"--max-request-body-size={settings.REQUEST_MAX_BYTES + 1}",
        "config.wsgi:application",
    ]


class Command(BaseCommand):
    help = "Serve Atelier (waitress) and run the job worker (django-q2 qcluster) in one foreground command."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, host: str, port: int, threads: int, **options):
        # Children get their own session: Ctrl-C reaches only this command, which stops them with
        # SIGTERM, so an interrupt during their start-up never prints a KeyboardInterrupt traceback.
        children = {
            "web": subprocess.Popen(web_command(host=host, port=port, threads=threads), start_new_session=True),
            "worker": subprocess.Popen([sys.executable, "manage.py", "qcluster"], start_new_session=True),
        }
        self.stdout.write(self.style.SUCCESS(f"Atelier is running at http://{host}:{port}/  (Ctrl-C stops it)"))
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children.values()):
                time.sleep(0.2)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            for name, child in children.items():
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"{name} did not stop in 15 s; killing it.")
                    child.kill()
        exited = [name for name, child in children.items() if child.returncode not in (0, -signal.SIGTERM, None)]
        if exited and not stopping:
            self.stderr.write(f"Stopped because the {', '.join(exited)} process exited.")
            sys.exit(1)
