"""A user's prompt history: the distinct prompts of their jobs, newest first, searchable."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max

from studio.models import Job

SHOWN = 15
SEARCH_CHARS = 200  # longer searches are cut: SQLite refuses very long LIKE patterns


def recent(*, owner: AbstractBaseUser, containing: str = "") -> list[str]:
    jobs = Job.objects.filter(owner=owner).exclude(prompt="")
    if containing := containing.replace("\x00", "").strip()[:SEARCH_CHARS]:
        jobs = jobs.filter(prompt__icontains=containing)
    rows = jobs.values("prompt").annotate(last=Max("pk")).order_by("-last")[:SHOWN]
    return [row["prompt"] for row in rows]
