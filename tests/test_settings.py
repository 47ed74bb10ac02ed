"""Settings from the environment: a persisted generated secret key, and a clean deploy check."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(code_or_args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    environment.update(ATELIER_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, *code_or_args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


PRINT_KEY = ["-c", "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"]


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    first = run(PRINT_KEY, tmp_path).stdout.strip()
    second = run(PRINT_KEY, tmp_path).stdout.strip()
    assert len(first) >= 50 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_an_environment_secret_key_wins(tmp_path):
    assert run(PRINT_KEY, tmp_path, SECRET_KEY="from-env").stdout.strip() == "from-env"


def test_a_bad_broker_setting_is_refused(tmp_path):
    result = run(PRINT_KEY, tmp_path, Q_BROKER="carrier-pigeon")
    assert result.returncode != 0 and "Q_BROKER must be 'orm' or 'redis'" in result.stderr


PRINT_RATE = [
    "-c",
    "import django; django.setup(); from django.conf import settings; print(settings.MIDJOURNEY_USD_PER_JOB)",
]


def test_the_midjourney_plan_rate_is_an_amount_or_unset(tmp_path):
    assert run(PRINT_RATE, tmp_path).stdout.strip() == "None"  # the catalog's default applies
    assert run(PRINT_RATE, tmp_path, MIDJOURNEY_USD_PER_JOB="0.033").stdout.strip() == "0.033"
    for bad in ("cheap", "-1", "NaN"):
        result = run(PRINT_RATE, tmp_path, MIDJOURNEY_USD_PER_JOB=bad)
        assert result.returncode != 0 and "MIDJOURNEY_USD_PER_JOB must be an amount in USD" in result.stderr


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        DEBUG="false",
        ALLOWED_HOSTS="atelier.example.com",
        SECURE_COOKIES="true",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
    )
    assert result.returncode == 0, result.stdout + result.stderr


PRINT_LIMITS = [
    "-c",
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.REQUEST_MAX_BYTES, s.DATA_UPLOAD_MAX_MEMORY_SIZE, s.FILE_UPLOAD_MAX_MEMORY_SIZE, "
    "s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()))",
]


def test_limits_come_from_the_environment(tmp_path):
    defaults = run(PRINT_LIMITS, tmp_path, UPLOAD_MAX_BYTES="1000").stdout.split()
    assert defaults == ["3000", "3000", "3000", "5", "900"]  # the request limit follows the upload limit
    chosen = run(
        PRINT_LIMITS,
        tmp_path,
        UPLOAD_MAX_BYTES="1000",
        REQUEST_MAX_BYTES="5000",
        LOGIN_FAILURE_LIMIT="3",
        LOGIN_COOLOFF_MINUTES="2",
    )
    assert chosen.stdout.split() == ["5000", "5000", "5000", "3", "120"]


def test_bad_limits_are_refused(tmp_path):
    result = run(PRINT_LIMITS, tmp_path, UPLOAD_MAX_BYTES="1000", REQUEST_MAX_BYTES="999")
    assert result.returncode != 0 and "REQUEST_MAX_BYTES (999) must be at least UPLOAD_MAX_BYTES" in result.stderr
    result = run(PRINT_LIMITS, tmp_path, LOGIN_FAILURE_LIMIT="0")
    assert result.returncode != 0 and "LOGIN_FAILURE_LIMIT must be a whole number of at least 1" in result.stderr
