"""The cost each provider's job records: real jobs through the real SDKs against the emulators,
priced from what each API answers (GPT Image's usage, Stability's calls, Replicate's outputs, a
Midjourney task), with the expected figures worked out by hand from the catalog's prices."""

import base64
from dataclasses import replace
from decimal import Decimal

import pytest
from PIL import Image as PILImage

from studio import imaging, pricing, specs, tasks
from studio.catalog import Operation, Size
from studio.models import Job
from studio.providers import midjourney, replicate, stability
from studio.specs import EditSettings
from tests.emulators.base import Fault
from tests.factories import make_request, png_bytes

pytestmark = pytest.mark.django_db


def request(model_id, operation="generate", **fields):
    fields.setdefault("prompt", "a lighthouse at dusk")
    return make_request(model_id, operation, **fields)


def run(user, request) -> Job:
    """Queue the request as a job row and run it the way the worker does."""
    job = Job.objects.create(owner=user, **specs.job_fields(request))
    outcome = tasks.run_job(job.pk)
    job.refresh_from_db()
    assert outcome == "succeeded", job.error_message
    return job


@pytest.fixture
def fast_polls(monkeypatch):
    for module in (stability, replicate, midjourney):
        monkeypatch.setattr(module, "POLL_SECONDS", 0.05)


# --- OpenAI: the tokens the answer's usage counts × the catalog's rates ---------------------------


def test_gpt_image_1_5_is_priced_from_the_usage_it_answers(openai_emulator, user):
    job = run(user, request("gpt-image-1.5", prompt="a lighthouse at dusk", size="1024x1024", quality="high", n=2))
    # 20 characters → 11 text tokens in; 2 × 4,160 image tokens and 2 × 100 reasoning tokens out.
    assert job.usage["input_tokens_details"] == {"text_tokens": 11, "image_tokens": 0}
    assert job.usage["output_tokens_details"] == {"image_tokens": 8320, "text_tokens": 200}
    # 11 × $5 + 8,320 × $32 + 200 × $10 per million = $0.268295
    assert job.cost == Decimal("0.2683")


def test_gpt_image_2_instruct_pays_for_its_input_image(openai_emulator, user):
    source = png_bytes(1024, 1024)
    job = run(user, request("gpt-image-2", "instruct", source=source, prompt="make it night", quality="low"))
    # 13 characters → 10 text tokens; the 1024×1024 input is 65 + 4 × 129 = 581 image tokens;
    # out: 272 image tokens and 150 reasoning tokens.
    assert job.usage["input_tokens_details"] == {"text_tokens": 10, "image_tokens": 581}
    # 10 × $5 + 581 × $8 + 272 × $30 + 150 × $10 per million = $0.014358
    assert job.cost == Decimal("0.0144")


def test_a_recorded_usage_without_output_details_counts_output_as_image_tokens(openai_emulator, user):
    # The answer OpenAI's API reference shows for images.generate (gpt-image-1), image bytes aside.
    recorded = {
        "created": 1713833628,
        "data": [{"b64_json": base64.b64encode(png_bytes(1024, 1024)).decode()}],
        "usage": {
            "total_tokens": 100,
            "input_tokens": 50,
            "output_tokens": 50,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
        },
    }
    openai_emulator.faults.append(Fault(on="POST /v1/images/generations", status=200, body=recorded))
    job = run(user, request("gpt-image-1", size="1024x1024", quality="low"))
    # 10 × $5 + 40 × $10 + 50 × $40 per million = $0.00245
    assert job.cost == Decimal("0.0025")


def test_a_usage_that_counts_no_output_is_priced_from_the_catalog_not_at_zero(openai_emulator, user):
    empty = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}  # a compatible server's placeholder
    recorded = {"created": 1713833628, "data": [{"b64_json": base64.b64encode(png_bytes(1024, 1024)).decode()}],
                "usage": empty}  # fmt: skip
    openai_emulator.faults.append(Fault(on="POST /v1/images/generations", status=200, body=recorded))
    job = run(user, request("gpt-image-1.5", size="1024x1024", quality="low"))
    assert job.cost == pricing.job_cost("gpt-image-1.5", "generate", job.params, images=1) and job.cost > 0


def test_an_answer_without_usage_is_priced_per_image(openai_emulator, user):
    job = run(user, request("dall-e-2", size="512x512", n=3))
    assert job.usage == {} and job.cost == Decimal("0.0540")  # 3 × $0.018


# --- Stability: credits per call, at $0.01 a credit ---------------------------------------------


def test_stability_v2_generation_costs_its_credits(stability_emulator, user):
    assert run(user, request("sd3.5-large", size="1024x1024")).cost == Decimal("0.0650")  # 6.5 credits
    assert run(user, request("stable-image-core", size="1344x768")).cost == Decimal("0.0300")  # 3 credits


def test_sdxl_is_priced_per_sample(stability_emulator, user):
    job = run(user, request("sdxl-1.0", size="1024x1024", n=3))
    assert job.cost == Decimal("0.0270")  # 3 × 0.9 credits


def test_stability_edits_and_upscales_cost_their_own_credits(stability_emulator, user, fast_polls):
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    inpaint = request("stable-image-core", "edit", source=png_bytes(64, 64), mask=imaging.png_bytes(mask))
    assert run(user, inpaint).cost == Decimal("0.0500")  # 5 credits
    upscale = request(
        "stable-image-ultra", "upscale", source=png_bytes(32, 24), size=Size.of(128, 96), edit=EditSettings(factor=4)
    )
    assert run(user, upscale).cost == Decimal("0.6000")  # creative upscale: 60 credits


# --- Replicate: the official Flux models, per output image ---------------------------------------


def test_replicate_is_priced_per_output_image(replicate_emulator, user):
    job = run(user, request("flux-schnell", size="1024x1024", n=2))
    assert job.images.count() == 2 and job.cost == Decimal("0.0060")  # 2 × $0.003
    assert job.usage["predict_time"] > 0  # recorded as the prediction's metrics gave it
    assert run(user, request("flux-1.1-pro", size="1024x1024")).cost == Decimal("0.0400")


# --- Midjourney: one job at the plan rate, however many images it returns ------------------------


def test_a_midjourney_grid_is_one_job_not_five_images(midjourney_proxy, user, fast_polls):
    job = run(user, request("midjourney-v7", size="1024x1024"))
    assert job.images.count() == 5  # the grid and its four quadrants
    assert job.cost == Decimal("0.0500")  # the catalog's default plan rate, once


def test_the_midjourney_plan_rate_is_a_setting(midjourney_proxy, user, fast_polls, settings):
    settings.MIDJOURNEY_USD_PER_JOB = Decimal("0.033")
    grid = run(user, request("midjourney-v7", size="1024x1024"))
    assert grid.cost == Decimal("0.0330")
    followup = specs.Followup(grid.usage["task_id"], "U2", tuple(grid.usage["buttons"]))
    upscale = replace(specs.from_job(grid), operation=Operation.UPSCALE, n=1, followup=followup)
    job = run(user, upscale)
    assert job.images.count() == 1 and job.cost == Decimal("0.0330")
