"""`manage.py runstudio` (what `make run` ends with) serves pages, runs a worker, and Ctrl-C stops both."""

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from studio.management.commands.runstudio import web_command
from tests.conftest import wait_for

pytestmark = pytest.mark.worker
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by `pid` (whatever session or group it is in)."""
    parents = {}
    for line in subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines():
        child, parent = map(int, line.split())
        parents[child] = parent
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def post_head_only(port: int, path: str, length: int) -> bytes:
    """Send a request's headers declaring `length` body bytes, none of the body, and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def test_waitress_takes_the_same_request_limit_as_django():
    command = web_command(host="127.0.0.1", port=8000, threads=8)
    # waitress refuses a body of max-request-body-size bytes or more: one over Django's limit.
    assert f"--max-request-body-size={settings.REQUEST_MAX_BYTES + 1}" in command
    assert command[-1] == "config.wsgi:application"


def test_serves_and_stops_web_and_worker_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(ATELIER_DATA_DIR=str(tmp_path), Q_WORKERS="1")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    log = tmp_path / "runstudio.log"  # a file, not a pipe: a leftover process cannot block reading it
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstudio", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    started = set()
    try:
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}/account/login/"), timeout=30)
        # waitress, qcluster, its sentinel, monitor, pusher and one worker (Q_WORKERS=1)
        assert wait_for(lambda: len(started.__ior__(descendants(process.pid))) >= 6, timeout=30), started
        # An oversize body is refused from its headers alone; the socket never sends a byte of it.
        limit = settings.REQUEST_MAX_BYTES
        answer = post_head_only(port, "/api/v1/jobs", limit + 1)
        assert answer.startswith(b"HTTP/1.1 413") and f"at most {limit:,} bytes".encode() in answer
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the whole group
        process.wait(timeout=40)
        assert wait_for(lambda: not group_alive(process.pid), timeout=20), "a child outlived Ctrl-C"
        left = [pid for pid in started if alive(pid)]
        assert left == [], f"processes outlived Ctrl-C: {left}"
        output = log.read_text()
        assert "Atelier is running" in output and "Traceback" not in output
    finally:
        for pid in {process.pid} | started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
