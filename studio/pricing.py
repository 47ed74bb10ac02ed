"""What a job costs: the estimate a budget is checked against before the call, and the cost
recorded when it finishes. Both read the catalog's prices (catalog.Pricing); the recorded cost
prefers the provider's own figure where it gives one (GPT Image's token usage)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from studio import catalog
from studio.catalog import Model, Operation

CENTS_OF_A_CENT = Decimal("0.0001")  # Job.cost keeps four decimal places
SQUARE_MEGAPIXEL = 1024 * 1024


def _rounded(usd: Decimal) -> Decimal:
    return usd.quantize(CENTS_OF_A_CENT, rounding=ROUND_HALF_UP)


def plan_rate(model: Model) -> Decimal | None:
    """USD per job of a model billed by a plan (Midjourney): MIDJOURNEY_USD_PER_JOB, else the catalog's."""
    if settings.MIDJOURNEY_USD_PER_JOB is not None:
        return settings.MIDJOURNEY_USD_PER_JOB
    return model.pricing.per_job if model.pricing else None


def per_image(model: Model, operation: str, params: dict) -> Decimal | None:
    """USD per output image for a job's operation, quality and size; None where the catalog has no figure.

    A quality without its own figure (GPT Image's `auto`) counts at the highest figure for the size,
    so no setting slips past a budget for free. A token-billed model's free size beyond the figures
    given is scaled by the square root of its pixels over 1024×1024 (see catalog.GPT_IMAGE_NOTE)."""
    pricing = model.pricing
    if pricing is None:
        return None
    if pricing.credits:
        return pricing.credit_price(Operation(operation))
    width, height = int(params.get("width") or 0), int(params.get("height") or 0)
    size = f"{width}x{height}"
    unit = pricing.image_price(str(params.get("quality", "")), size)
    if unit is None:
        for_size = [usd for key, usd in pricing.per_image.items() if "/" not in key or key.endswith(f"/{size}")]
        unit = max(for_size, default=None)
    if unit is None:
        return None
    sized = any(key.endswith(f"/{size}") for key in pricing.per_image)
    if pricing.tokens and not sized and width * height > SQUARE_MEGAPIXEL:
        unit *= Decimal(math.sqrt(width * height / SQUARE_MEGAPIXEL))
    return unit


def estimate(model_id: str, operation: str, params: dict) -> Decimal | None:
    """What a job will cost at most, before it runs (for budgets); None when its price is unknown."""
    model = catalog.get_model(model_id)
    if model is None or model.pricing is None:
        return None
    if model.pricing.per_job is not None:
        return plan_rate(model)  # one job, whatever it returns
    unit = per_image(model, operation, params)
    return _rounded(unit * int(params.get("n", 1))) if unit is not None else None


def job_cost(
    model_id: str, operation: str, params: dict, *, images: int, provider_cost: Decimal | None = None
) -> Decimal | None:
    """What a finished job cost: the provider's own figure where it gave one, else the catalog's
    price for each image that came back (a Midjourney grid and its quadrants are one job)."""
    if provider_cost is not None:
        return _rounded(provider_cost)
    model = catalog.get_model(model_id)
    if model is None or model.pricing is None:
        return None
    if model.pricing.per_job is not None:
        return plan_rate(model)
    unit = per_image(model, operation, params)
    return _rounded(unit * images) if unit is not None else None
