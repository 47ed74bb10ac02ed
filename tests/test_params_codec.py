"""The request codec: Job.params version 2, and the migration that converts version 1 rows."""

import importlib

import pytest

from studio import jobs, specs
from studio.catalog import Operation
from studio.models import Job
from tests.factories import make_job
from tests.migrating import migrate, migrate_to_latest

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


# --- 0012: options a model never sends for the job's operation are dropped ------------------------

BEFORE_DROP, AFTER_DROP = ("studio", "0011_recovery"), ("studio", "0012_params_drop_inapplicable_options")
V1_GPT_EDIT = {
    "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "high", "n": 1, "seed": 3,
    "options": {"background": "auto", "output_format": "png", "output_compression": 100, "moderation": "auto"},
}  # fmt: skip
V1_ULTRA = {
    "width": 1024, "height": 1024, "aspect_ratio": "1:1", "quality": "standard", "n": 1, "seed": 3,
    "options": {"output_format": "jpg", "output_quality": 80, "safety_tolerance": 2, "prompt_upsampling": False},
}  # fmt: skip


@pytest.fixture
def latest_schema_afterwards():
    yield
    migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_migrated_v1_edits_lose_the_options_their_model_never_sends_and_can_be_retried(
    latest_schema_afterwards, settings
):
    settings.PROVIDER_SETTINGS["openai"]["api_key"] = "test"
    settings.PROVIDER_SETTINGS["replicate"]["api_key"] = "test"
    apps = migrate(BEFORE_DROP)
    owner = apps.get_model("auth", "User").objects.create(username="owner")
    OldJob = apps.get_model("studio", "Job")

    def old_row(model_id, operation, v1, status="failed"):
        return OldJob.objects.create(owner=owner, operation=operation, model_id=model_id, prompt="a cat", status=status,
                                     params=migration.to_v2(v1), source_file="inputs/a.png").pk  # fmt: skip

    edit = old_row("gpt-image-1.5", "edit", V1_GPT_EDIT)
    generation = old_row("gpt-image-1.5", "generate", V1_GPT_EDIT)
    ultra = old_row("flux-1.1-pro-ultra", "generate", V1_ULTRA)
    untouched = old_row("offline", "edit", {**V1_GPT_EDIT, "options": {}})
    before = dict(OldJob.objects.values_list("pk", "params"))

    after = dict(migrate(AFTER_DROP).get_model("studio", "Job").objects.values_list("pk", "params"))
    assert after[edit]["options"] == {"background": "auto", "output_format": "png", "output_compression": 100}
    assert {k: v for k, v in after[edit].items() if k != "options"} == {
        k: v for k, v in before[edit].items() if k != "options"
    }
    assert after[generation] == before[generation]  # a generation sends moderation
    assert after[ultra]["options"] == {"output_format": "jpg", "safety_tolerance": 2}
    assert after[untouched] == before[untouched]
    migrate_to_latest()  # today's code reads the rows at today's schema
    for pk in (edit, generation, ultra):
        job = Job.objects.get(pk=pk)
        retry = jobs.job_retry(job=job, by=job.owner)
        assert retry.params["options"] == after[pk]["options"]


def test_the_table_keeps_what_a_generation_sends():
    drop = importlib.import_module("studio.migrations.0012_params_drop_inapplicable_options")
    params = migration.to_v2(V1_GPT_EDIT)
    assert drop.without_inapplicable("gpt-image-2", "generate", params) is params
    assert "moderation" not in drop.without_inapplicable("gpt-image-2", "instruct", params)["options"]
    assert drop.without_inapplicable("gpt-image-2", "edit", V1_GPT_EDIT) is V1_GPT_EDIT  # not version 2: left
