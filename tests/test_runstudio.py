"""`manage.py runstudio` (what `make run` ends with) serves pages, runs a worker, and Ctrl-C stops both."""

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

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


def answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def test_serves_and_stops_web_and_worker_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(ATELIER_DATA_DIR=str(tmp_path), Q_WORKERS="1")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstudio", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}/account/login/"), timeout=30)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the whole group
        process.wait(timeout=30)
        assert wait_for(lambda: not group_alive(process.pid), timeout=20), "a child outlived Ctrl-C"
        children = subprocess.run(["pgrep", "-f", f"listen=127.0.0.1:{port}"], capture_output=True, text=True).stdout
        assert children == "", "the web server outlived Ctrl-C"
        output = process.stdout.read().decode()
        assert "Atelier is running" in output and "Traceback" not in output
    finally:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
