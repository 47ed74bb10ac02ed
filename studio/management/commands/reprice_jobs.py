"""Price finished jobs that have no recorded cost — made before their model had a price here — from
what each job recorded: GPT Image's token usage, else the catalog's prices for its images."""

from __future__ import annotations

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db.models import Count
from openai.types.images_response import Usage
from pydantic import ValidationError

from studio import catalog, pricing
from studio.models import Job
from studio.providers.openai import usage_cost


def recorded_cost(job: Job, images: int) -> Decimal | None:
    model = catalog.get_model(job.model_id)
    provider_cost = None
    if model is not None and model.pricing and model.pricing.tokens and job.usage:
        try:
            provider_cost = usage_cost(model, Usage.model_validate(job.usage))
        except ValidationError:
            provider_cost = None  # not a usage OpenAI's SDK reads: priced per image instead
    return pricing.job_cost(job.model_id, job.operation, job.params, images=images, provider_cost=provider_cost)


class Command(BaseCommand):
    help = "Record the cost of finished jobs whose cost is unknown, where their model now has a price."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")

    def handle(self, *args, dry_run: bool = False, **options):
        unpriced = Job.objects.filter(status=Job.Status.SUCCEEDED, cost__isnull=True).annotate(
            image_count=Count("images")
        )
        priced, total, still_unknown = 0, Decimal(0), 0
        for job in unpriced.order_by("pk").iterator(chunk_size=500):
            cost = recorded_cost(job, job.image_count)
            if cost is None:
                still_unknown += 1
                continue
            if not dry_run:
                Job.objects.filter(pk=job.pk, cost__isnull=True).update(cost=cost)
            priced += 1
            total += cost
        verb = "Would price" if dry_run else "Priced"
        self.stdout.write(f"{verb} {priced} job(s), ${total:.4f} in all; {still_unknown} still unknown.")
