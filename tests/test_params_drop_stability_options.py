"""Migration 0014: jobs stored before options, negative prompts and counts were checked per operation
lose what their operation refuses (SDXL and Core upscales, Core erases and outpaints, offline
upscales), so Retry and Edit and retry can run them."""

import importlib
from types import SimpleNamespace

import pytest

from studio import catalog, jobs, specs
from studio.catalog import Model, Operation
from studio.models import Job
from tests.migrating import migrate, migrate_to_latest

BEFORE, AFTER = ("studio", "0013_size_aspect_not_label"), ("studio", "0014_params_drop_stability_options")
drop_0012 = importlib.import_module("studio.migrations.0012_params_drop_inapplicable_options")
drop_0014 = importlib.import_module("studio.migrations.0014_params_drop_stability_options")

SDXL_OPTIONS = {"cfg_scale": 7.0, "steps": 30, "sampler": "K_DPMPP_2M", "style_preset": "none"}
CORE_OPTIONS = {"output_format": "png", "style_preset": "none"}


def stored(width, height, *, n=1, options=None, **fields):
    """Job.params (version 2) as rows from before 6ae2f71 hold them."""
    return {"version": 2, "width": width, "height": height, "aspect_ratio": "1:1", "quality": "standard", "n": n,
            "seed": 3, "options": dict(options or {}), **fields}  # fmt: skip


def saved(job_model):
    """Each job's params and negative prompt, by id."""
    rows = job_model.objects.values_list("pk", "params", "negative_prompt")
    return {pk: (params, negative) for pk, params, negative in rows}


@pytest.fixture
def latest_schema_afterwards():
    yield
    migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_old_stability_and_offline_jobs_lose_what_their_operation_refuses_and_can_be_retried(
    latest_schema_afterwards, settings
):
    settings.PROVIDER_SETTINGS["stability"]["api_key"] = "test"
    apps = migrate(BEFORE)
    owner = apps.get_model("auth", "User").objects.create(username="owner")
    OldJob = apps.get_model("studio", "Job")

    def old_row(model_id, operation, params, negative_prompt="blurry"):
        return OldJob.objects.create(owner=owner, operation=operation, model_id=model_id, prompt="a cat",
                                     negative_prompt=negative_prompt, status="failed", params=params,
                                     source_file="inputs/a.png").pk  # fmt: skip

    sdxl_upscale = old_row("sdxl-1.0", "upscale", stored(1024, 1024, n=10, options=SDXL_OPTIONS, edit={"factor": 2}))
    core_erase = old_row("stable-image-core", "erase", stored(1024, 1024, options=CORE_OPTIONS))
    core_upscale = old_row("stable-image-core", "upscale", stored(2048, 2048, options=CORE_OPTIONS, edit={"factor": 4}))
    extend = {"left": 0, "top": 0, "right": 64, "bottom": 0}
    outpaint_options = {**CORE_OPTIONS, "style_preset": "anime"}
    core_outpaint = old_row(
        "stable-image-core", "outpaint", stored(1088, 1024, options=outpaint_options, edit={"extend": extend})
    )
    offline_upscale = old_row("offline", "upscale", stored(128, 128, n=4, edit={"factor": 2}))
    # Left as they are: what the operation takes, and rows the migration cannot read.
    sdxl_generate = old_row("sdxl-1.0", "generate", stored(1024, 1024, n=10, options=SDXL_OPTIONS))
    core_generate = old_row("stable-image-core", "generate", stored(1024, 1024, options=CORE_OPTIONS))
    not_a_dict = old_row("sdxl-1.0", "upscale", ["not", "params"])
    version_1 = old_row("sdxl-1.0", "upscale", {"n": 10, "options": SDXL_OPTIONS})
    bare = old_row("sdxl-1.0", "upscale", {"version": 2, "width": 1024, "height": 1024})
    before = saved(OldJob)

    after = saved(migrate(AFTER).get_model("studio", "Job"))
    migrate_to_latest()  # the retries below use today's models

    def changed(pk):
        """What migrating changed in the row: params keys with their new values, and the negative prompt."""
        (old, old_negative), (new, new_negative) = before[pk], after[pk]
        diff = {key: new.get(key) for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        return diff, new_negative if new_negative != old_negative else "kept"

    assert changed(sdxl_upscale) == ({"n": 1, "options": {}}, "")
    assert changed(core_erase) == ({"options": {"output_format": "png"}}, "")
    assert changed(core_upscale) == ({"options": {"output_format": "png"}}, "")
    assert changed(core_outpaint) == ({}, "")  # the style preset is an outpaint's; the negative prompt is not
    assert changed(offline_upscale) == ({"n": 1}, "kept")  # the offline renderer reads a negative prompt
    for pk in (sdxl_generate, core_generate, not_a_dict, version_1):
        assert after[pk] == before[pk]
    assert after[bare] == (before[bare][0], "")  # no keys added to a row that lacks them
    for pk in (sdxl_upscale, core_erase, core_upscale, core_outpaint, offline_upscale):
        job = Job.objects.get(pk=pk)
        retry = jobs.job_retry(job=job, by=job.owner)
        assert (retry.params["options"], retry.params["n"], retry.negative_prompt) == (
            after[pk][0]["options"],
            after[pk][0]["n"],
            after[pk][1],
        )


# --- every model and operation -------------------------------------------------------------------


def valid_request(model: Model, operation: Operation) -> specs.ImageRequest:
    """A request today's catalog takes for this model and operation, with default options."""
    edit = specs.NO_EDIT
    fields = {}
    if operation == Operation.UPSCALE:
        factor = model.upscale.factors[0]
        fields["size"] = catalog.Size.of(512 * factor, 512 * factor)
        edit = specs.EditSettings(factor=factor)
    elif operation == Operation.OUTPAINT:
        edit = specs.EditSettings(extend=specs.Extension(right=64))
    elif operation == Operation.REMIX:
        edit = specs.EditSettings(strength=0.5)
    elif operation == Operation.SEARCH_REPLACE:
        edit = specs.EditSettings(search_prompt="a dog")
    elif operation == Operation.CONTROL:
        edit = specs.EditSettings(control_kind=model.control_kinds[0], control_strength=0.5)
    elif operation == Operation.STYLE:
        edit = specs.EditSettings(fidelity=0.5)
    return specs.build(model=model, operation=operation, prompt="a cat", seed=1, edit=edit, available=False, **fields)


def old_build(model: Model, operation: Operation) -> SimpleNamespace:
    """The job row the old `build` wrote: every option of the operation at its default (Stability's
    options applied to every operation until 6ae2f71), a negative prompt wherever the model took
    one, and the model's largest count, before counts and negative prompts were per operation."""
    request = valid_request(model, operation)
    options = model.options if model.provider == "stability" else model.options_for(operation)
    params = {**specs.to_params(request), "options": {o.name: o.default for o in options}, "n": model.max_n}
    negative_prompt = "blurry" if model.negative_prompt else ""
    return SimpleNamespace(pk=1, **{**specs.job_fields(request), "params": params, "negative_prompt": negative_prompt})


PAIRS = [(model, operation) for model in catalog.MODELS.values() for operation in sorted(model.operations)]


@pytest.mark.parametrize(("model", "operation"), PAIRS, ids=[f"{m.id}-{op}" for m, op in PAIRS])
def test_every_old_row_is_valid_after_the_migrations(model, operation):
    """A catalog change that refuses what old rows hold fails here until a migration handles it."""
    job = old_build(model, operation)
    job.params = drop_0012.without_inapplicable(job.model_id, job.operation, job.params)
    job.params, job.negative_prompt = drop_0014.without_refused(
        job.model_id, job.operation, job.params, job.negative_prompt
    )
    specs.validate(specs.from_job(job))
