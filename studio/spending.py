"""What the team spent: finished jobs' costs per day, per model and per person for a period, each
member's spend this month, and the rows of the CSV export. Each is a fixed number of queries."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from studio import catalog, pricing
from studio.jobs import ESTIMATED, PAID, month_start
from studio.models import Job

Status = Job.Status
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = ("finished", "job", "person", "model", "model_id", "operation", "images", "usd", "prompt")


@dataclass(frozen=True)
class Day:
    day: date
    usd: Decimal
    jobs: int


@dataclass(frozen=True)
class Total:
    """One row of a per-model or per-person table: `unpriced` jobs had no known price."""

    key: str
    label: str
    jobs: int
    usd: Decimal
    unpriced: int


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    days: list[Day]  # every day of the period, in order, zero where nothing was spent
    by_model: list[Total]
    by_person: list[Total]

    @property
    def total(self) -> Decimal:
        return sum((d.usd for d in self.days), Decimal(0))

    @property
    def unpriced(self) -> int:
        return sum(row.unpriced for row in self.by_model)


def finished(start: date, end: date) -> QuerySet[Job]:
    """Jobs that were paid for (succeeded, or failed to store a paid result) from the start of
    `start` to the end of `end`, in the current time zone."""
    tz = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tz)
    until = datetime.combine(end + timedelta(days=1), time.min, tz)
    return Job.objects.filter(PAID, finished_at__gte=since, finished_at__lt=until)


def _totals(jobs: QuerySet[Job], field: str) -> Iterator[dict]:
    return (
        jobs.values(field)
        .annotate(usd=Sum("cost"), jobs=Count("id"), unpriced=Count("id", filter=Q(cost__isnull=True)))
        .order_by(field)
        .iterator()
    )


def _ranked(rows: Iterable[Total]) -> list[Total]:
    return sorted(rows, key=lambda row: (-row.usd, row.label))


def report(start: date, end: date) -> Report:
    """Spend per day, per model and per person: three queries, whatever the period."""
    jobs = finished(start, end)
    per_day = {
        row["day"]: row
        for row in jobs.annotate(day=TruncDate("finished_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(usd=Sum("cost"), jobs=Count("id"))
        .order_by("day")
    }
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        row = per_day.get(day, {})
        days.append(Day(day, row.get("usd") or Decimal(0), row.get("jobs", 0)))
    by_model = []
    for row in _totals(jobs, "model_id"):
        model = catalog.get_model(row["model_id"])
        label = model.label if model else row["model_id"]
        by_model.append(Total(row["model_id"], label, row["jobs"], row["usd"] or Decimal(0), row["unpriced"]))
    by_person = [
        Total(row["owner__username"], row["owner__username"], row["jobs"], row["usd"] or Decimal(0), row["unpriced"])
        for row in _totals(jobs, "owner__username")
    ]
    return Report(start, end, days, _ranked(by_model), _ranked(by_person))


def month_spend_by_owner() -> dict[int, Decimal]:
    """Each owner's spend this month, as jobs.month_spend counts it (recorded costs, plus estimates
    for jobs running or waiting to, canceled mid-call, or whose paid result the provider still
    holds), for everyone at once: two queries."""
    this_month = Job.objects.filter(queued_at__gte=month_start())
    spent: dict[int, Decimal] = defaultdict(Decimal)
    done = this_month.filter(PAID).values("owner_id").annotate(usd=Sum("cost")).order_by()
    for row in done:
        spent[row["owner_id"]] += row["usd"] or Decimal(0)
    pending = this_month.filter(ESTIMATED).values_list("owner_id", "model_id", "operation", "params")
    for owner_id, model_id, operation, params in pending:
        spent[owner_id] += pricing.estimate(model_id, operation, params) or Decimal(0)
    return spent


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """csv.writer's file: hands back each line it writes, for a streamed response."""

    def write(self, line: str) -> str:
        return line


def csv_lines(start: date, end: date) -> Iterator[str]:
    """The period's finished jobs as CSV lines, oldest first: one query, streamed."""
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_HEADER)
    jobs = (
        finished(start, end)
        .annotate(image_count=Count("images"))
        .order_by("finished_at", "id")
        .values_list("finished_at", "id", "owner__username", "model_id", "operation", "image_count", "cost", "prompt")
    )
    tz = timezone.get_current_timezone()
    for finished_at, job_id, username, model_id, operation, images, cost, prompt in jobs.iterator(chunk_size=500):
        model = catalog.get_model(model_id)
        yield writer.writerow(
            (
                finished_at.astimezone(tz).isoformat(timespec="seconds"),
                job_id,
                safe_cell(username),
                safe_cell(model.label if model else model_id),
                safe_cell(model_id),
                operation,
                images,
                "" if cost is None else f"{cost:f}",
                safe_cell(prompt),
            )
        )
