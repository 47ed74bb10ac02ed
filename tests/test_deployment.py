"""The scale-out environment of docs/deployment.md passes `manage.py check --deploy`, and its
proxy settings hold: https behind a TLS-ending proxy is not redirected, /healthz never is."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from studio.management.commands.runstudio import web_command
from tests.conftest import s3_env

ROOT = Path(__file__).resolve().parent.parent
# Where each service lives on this machine; the test points only these at it.
LOCAL = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/atelier_i10_storage_deploy_check",
    "REDIS_URL": "redis://127.0.0.1:6379/5",
}


def documented_environment() -> dict[str, str]:
    text = (ROOT / "docs" / "deployment.md").read_text()
    block = re.search(r"```dotenv\n(.*?)```", text, re.S).group(1)
    return dict(line.split("=", 1) for line in block.splitlines() if line and not line.startswith("#"))


def test_the_documented_scale_out_environment_passes_the_deploy_check(s3_bucket, tmp_path):
    documented = documented_environment()
    assert {"STORAGE", "Q_BROKER", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "AWS_STORAGE_BUCKET_NAME"} <= set(
        documented
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment.update(
        documented,
        ATELIER_DATA_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(50),  # the document shows a placeholder
        **LOCAL,
        **s3_env(s3_bucket),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_behind_a_tls_proxy_https_is_not_redirected_and_healthz_never_is(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    assert client.get("/account/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get("/account/login/").status_code == 301  # plain http from outside
    assert client.get("/healthz").status_code == 200  # the load balancer's probe


def test_every_documented_waitress_command_takes_the_request_limit():
    """Without --max-request-body-size waitress takes (and spools to disk) bodies up to 1 GB before
    Django can refuse them; every command the documents give carries runstudio's value."""
    flag = next(arg for arg in web_command(host="127.0.0.1", port=8000, threads=8) if "max-request-body" in arg)
    assert flag == f"--max-request-body-size={settings.REQUEST_MAX_BYTES + 1}"
    commands = [
        (path.name, command)
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for command in re.findall(r"(?:waitress-serve|-m waitress)\b[^`\n]*", path.read_text())
    ]
    assert commands, "the deployment guide shows how to run waitress"
    assert [(name, command) for name, command in commands if flag not in command.split()] == []
