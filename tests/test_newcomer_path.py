"""The newcomer path: `make run` with HOST/PORT and runtime requirements only, `make demo` with the
emulators passed straight to the studio, and a test suite that never reads the developer's `.env`."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_dry_run(*args: str) -> str:
    """The commands `make` would run, every target treated as out of date (nothing is executed)."""
    result = subprocess.run(["make", "-n", "-B", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_takes_host_and_port_and_installs_only_the_runtime_requirements():
    commands = make_dry_run("run", "HOST=0.0.0.0", "PORT=9123")
    assert "manage.py runstudio --host 0.0.0.0 --port 9123" in commands
    assert "-r requirements.txt" in commands
    assert "requirements-dev.txt" not in commands


def test_make_test_installs_the_dev_tools_too():
    commands = make_dry_run("test")
    assert "-r requirements.txt" in commands and "-r requirements-dev.txt" in commands


def test_make_demo_starts_the_studio_through_the_emulators():
    commands = make_dry_run("demo", "PORT=9124")
    assert "-m tests.emulators --port 8801 --" in commands
    assert "manage.py runstudio --host 127.0.0.1 --port 9124" in commands


def test_the_emulators_hand_their_settings_to_the_command_they_run(tmp_path):
    show = "import os; print(os.environ['OPENAI_BASE_URL'], os.environ['MIDJOURNEY_PROXY_URL'])"
    environment = {**os.environ, "ATELIER_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "tests.emulators", "--port", "0", "--", sys.executable, "-c", show],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    openai_url, midjourney_url = result.stdout.splitlines()[-1].split()
    assert openai_url.startswith("http://127.0.0.1:") and openai_url.endswith("/v1")
    assert midjourney_url.startswith("http://127.0.0.1:")


def test_a_bogus_env_file_does_not_reach_the_test_suite(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("Q_BROKER=carrier-pigeon\n")
    environment = {**os.environ, "ATELIER_ENV_FILE": str(env_file), "ATELIER_DATA_DIR": str(tmp_path)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    # The project's settings do read that file: it is bogus enough to stop them.
    outside = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert outside.returncode != 0 and "Q_BROKER must be 'orm' or 'redis'" in outside.stderr
    # A test run with the same environment ignores it.
    (tmp_path / "test_broker.py").write_text(
        "def test_broker():\n    from django.conf import settings\n    assert settings.Q_CLUSTER['orm'] == 'default'\n"
    )
    inside = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:playwright",
            "-q",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(ROOT),
            str(tmp_path / "test_broker.py"),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert inside.returncode == 0, inside.stdout + inside.stderr
