"""Run the web server and the django-q2 worker together; Ctrl-C stops both."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def group_running(pgid: int) -> bool:
    """Whether a process of the group still runs. On Linux, exited processes that nobody has reaped
    yet (zombies: in a container, PID 1 may never reap orphans) do not count."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited while we looked
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def group_ended(child: subprocess.Popen, *, timeout: float) -> bool:
    """Wait until the child has exited and no process of its group is left: the django-q2
    cluster's sentinel and workers are the cluster's children, and must not outlive it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.poll()
        if not group_running(child.pid):
            return True
        time.sleep(0.1)
    return False


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
            children["web"].terminate()
            # SIGINT to the worker's whole group: the cluster stops, and each worker process takes
            # no new job (studio.worker) while its running one finishes, within JOB_DRAIN_SECONDS.
            # What is still running then is killed, and recovered at the next start.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(children["worker"].pid, signal.SIGINT)
            drain = settings.JOB_DRAIN_SECONDS
            for name, child in children.items():
                if not group_ended(child, timeout=drain):
                    self.stderr.write(f"The {name} processes did not stop in {drain} s; killing them.")
                    with contextlib.suppress(ProcessLookupError):  # the child leads its own group
                        os.killpg(child.pid, signal.SIGKILL)
                    group_ended(child, timeout=5)
        exited = [name for name, child in children.items() if child.returncode not in (0, -signal.SIGTERM, None)]
        if exited and not stopping:
            self.stderr.write(f"Stopped because the {', '.join(exited)} process exited.")
            sys.exit(1)
