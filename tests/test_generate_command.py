"""`manage.py generate`: the CLI goes through the same validation and job path as the web UI."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from studio.models import Job
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return make_user(username="admin", is_superuser=True, is_staff=True)


def test_inline_generation_prints_the_saved_paths(admin):
    out = io.StringIO()
    call_command(
        "generate",
        "--prompt",
        "a mountain lake",
        "--aspect",
        "16:9",
        "--quality",
        "draft",
        "-n",
        "2",
        "--inline",
        stdout=out,
    )
    paths = out.getvalue().split()
    assert len(paths) == 2
    assert all(Image.open(Path(p)).size == (1344, 768) for p in paths)
    assert Job.objects.get().owner == admin


def test_queue_without_waiting_prints_the_job_id(admin, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("generate", "--prompt", "x", stdout=out)
    assert f"Queued job {Job.objects.get().pk}." in out.getvalue() and len(callbacks) == 1


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--prompt", ""], "Write a prompt"),
        (["--prompt", "x", "--model", "nope"], "Unknown model"),
        (["--prompt", "x", "--aspect", "5:7"], "has no aspect ratio “5:7”"),
        (["--prompt", "x", "--option", "broken"], "NAME=VALUE"),
    ],
)
def test_bad_arguments_are_explained(admin, args, text):
    with pytest.raises(CommandError, match=text):
        call_command("generate", *args)
    assert not Job.objects.exists()


def test_needs_an_owner():
    with pytest.raises(CommandError, match="No such user"):
        call_command("generate", "--prompt", "x", "--inline")
