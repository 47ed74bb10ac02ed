"""The request codec: Job.params version 2, and the migration that converts version 1 rows."""

import importlib

import pytest

from studio import specs
from studio.catalog import Operation
from tests.factories import make_job

pytestmark = pytest.mark.django_db
migration = importlib.import_module("studio.migrations.0007_params_version_2")

V1_OUTPAINT = {
    "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "standard", "n": 1, "seed": 3,
    "options": {"output_format": "png"}, "extend": {"left": 0, "top": 0, "right": 64, "bottom": 0},
}  # fmt: skip
V1_FOLLOWUP = {
    "width": 1456, "height": 816, "aspect_ratio": "16:9", "quality": "1", "n": 1, "seed": 9,
    "options": {"mj_task": "T1", "mj_action": "U2", "mj_buttons": [{"label": "U2", "customId": "MJ::2"}]},
}  # fmt: skip


def test_version_1_rows_convert_and_read_back_as_the_same_request():
    job = make_job(operation="outpaint", model_id="stable-image-core", params=migration.to_v2(V1_OUTPAINT))
    request = specs.from_job(job)
    assert request.operation == Operation.OUTPAINT and request.size.aspect == "1:1"
    assert request.edit.extend == specs.Extension(right=64) and dict(request.options) == {"output_format": "png"}
    assert specs.to_params(request) == job.params


def test_midjourney_follow_ups_move_out_of_the_models_options():
    converted = migration.to_v2(V1_FOLLOWUP)
    assert converted["options"] == {} and converted["followup"]["task_id"] == "T1"
    job = make_job(operation="upscale", model_id="midjourney-v7", params=converted)
    request = specs.from_job(job)
    assert request.followup.action == "U2" and request.followup.buttons[0]["customId"] == "MJ::2"
    specs.validate(request)


@pytest.mark.parametrize("v1", [V1_OUTPAINT, V1_FOLLOWUP])
def test_the_migration_reverses(v1):
    assert migration.to_v1(migration.to_v2(v1)) == v1
    assert migration.to_v2(migration.to_v2(v1)) == migration.to_v2(v1)


def test_a_request_survives_the_round_trip_through_a_job():
    request = specs.build(model="offline", prompt="a harbour", aspect_ratio="16:9", quality="high", n=2, seed=5)
    job = make_job(**specs.job_fields(request, notes=("a note",)))
    assert specs.from_job(job) == request
    assert job.params["notes"] == ["a note"] and job.params["version"] == specs.VERSION


def test_an_unknown_format_is_refused_not_guessed():
    job = make_job(params={**V1_OUTPAINT, "version": 7})
    with pytest.raises(specs.Invalid, match="unknown format"):
        specs.from_job(job)
