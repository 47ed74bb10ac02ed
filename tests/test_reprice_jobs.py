"""`manage.py reprice_jobs`: finished jobs recorded before their model had a price get one."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db

GRID = {"width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "1", "n": 1, "seed": 1, "options": {}}
GPT = {"width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "auto", "n": 1, "seed": 1, "options": {}}
USAGE = {  # as the provider stored it: the SDK's Usage, dumped
    "input_tokens": 11,
    "input_tokens_details": {"text_tokens": 11, "image_tokens": 0},
    "output_tokens": 4260,
    "output_tokens_details": {"image_tokens": 4160, "text_tokens": 100},
    "total_tokens": 4271,
}


def done(model_id, params, images=1, **fields):
    job = make_job(model_id=model_id, params=params, status="succeeded", cost=None, **fields)
    for index in range(images):
        make_image(job, with_files=False, index=index)
    return job


def reprice(*args):
    out = StringIO()
    call_command("reprice_jobs", *args, stdout=out)
    return out.getvalue()


def test_unpriced_jobs_get_their_cost_from_what_they_recorded():
    gpt = done("gpt-image-1.5", GPT, usage=USAGE)
    gpt_without_usage = done("gpt-image-1.5", GPT)
    grid = done("midjourney-v7", GRID, images=5)
    unknown = done("a-model-since-removed", GPT)
    already = make_job(model_id="flux-schnell", status="succeeded", cost=Decimal("0.1234"))

    assert reprice("--dry-run") == "Would price 3 job(s), $0.3172 in all; 1 still unknown.\n"
    gpt.refresh_from_db()
    assert gpt.cost is None

    assert reprice() == "Priced 3 job(s), $0.3172 in all; 1 still unknown.\n"
    for job in (gpt, gpt_without_usage, grid, unknown, already):
        job.refresh_from_db()
    costs = {job.pk: job.cost for job in (gpt, gpt_without_usage, grid, unknown, already)}
    # 11 × $5 + 4,160 × $32 + 100 × $10 per million; auto at the highest 1024×1024 figure; one grid.
    assert costs == {
        gpt.pk: Decimal("0.1342"),
        gpt_without_usage.pk: Decimal("0.1330"),
        grid.pk: Decimal("0.0500"),
        unknown.pk: None,
        already.pk: Decimal("0.1234"),
    }
