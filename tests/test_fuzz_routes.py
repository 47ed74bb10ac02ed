"""Hostile input on every route: each query parameter, form field and JSON field of every URL,
with each method it accepts (and as htmx where the view tells htmx apart), answers without a 5xx.

Each case is one (route, method, parameter): first every fixed hostile value, then a few examples
that hypothesis generates (more in the nightly run), some with other fields hostile too. Failures
are collected, not raised at the first, so a case lists every distinct 5xx it found."""

from __future__ import annotations

import base64
import functools
import importlib
import inspect
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from accounts.forms import LoginForm, TokenForm
from accounts.models import ApiToken, hash_token
from gallery import selectors, services
from gallery.models import Board, BoardImage, Image, SavedSearch, Tag
from studio import api, catalog, specs
from studio.forms import OPTION_PREFIX, BattleForm, ComparisonForm, EditForm, JobForm, SweepForm
from studio.models import Comparison, Job
from tests import fuzz
from tests.factories import make_image, make_job, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

ALL_ROUTES = fuzz.walk_urlconf()
ROUTES = {route.name: route for route in ALL_ROUTES}  # test_every_route_has_a_name_of_its_own

# --- what each route reads -----------------------------------------------------------------------
# Form-backed routes take their fields from the form classes; the rest are listed here, and
# test_the_table_covers_every_route_and_every_parameter checks the list against the views' code
# and the templates. `@kind` in a value is the id (or name) of a row the world fixture made;
# `opt:<kind>` stands for every model option of that kind (int, float, choice, bool).

OPTION_KINDS = tuple(f"opt:{kind.value}" for kind in catalog.OptionKind)


def _form_fields(form_class: type) -> tuple[str, ...]:
    return (*form_class.base_fields, *OPTION_KINDS)


JOB_FIELDS = (*_form_fields(JobForm), "operation")  # model_fields reads operation through the form
EDIT_FIELDS = _form_fields(EditForm)

# The context (other fields) each edit field is read in: its operation and a model that does it.
EDIT_CONTEXT = {
    **{f"extend_{side}": "outpaint" for side in ("left", "top", "right", "bottom")},
    "extend_aspect": "outpaint",
    "strength": "remix",
    "factor": "upscale",
    "search_prompt": "replace",
    "control_kind": "control",
    "control_strength": "control",
    "fidelity": "style",
    "mask": "edit",
    "references": "edit",
}


def _edit_context(operation: str) -> dict[str, Any]:
    model = catalog.models_for(catalog.Operation(operation))[0]
    return {"operation": operation, "model": model.id}


# Fields that parse a size or an aspect ratio get the hostile shapes too; those that parse a day,
# the days.
SHAPED = {"size", "aspect_ratio", "extend_aspect", "values"}
DATED = {"from", "to", "start", "end"}


@dataclass(frozen=True)
class Spec:
    """What a route reads and the valid values its other fields get while one is fuzzed."""

    query: tuple[str, ...] = ()
    form: tuple[str, ...] = ()
    json: tuple[str, ...] = ()
    many: frozenset[str] = frozenset()  # fields sent as lists (getlist)
    base: dict[str, Any] = field(default_factory=dict)
    contexts: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)  # kwarg -> row kind
    clients: tuple[str, ...] = ("user",)
    multipart: bool = False
    files: tuple[str, ...] = ()  # file fields sent with a valid PNG unless the field is fuzzed
    # The route waits for its job, which never runs here: "still running" (504) is its answer.
    waits: bool = False


JOB_BASE = {"model": "offline", "prompt": "a lighthouse", "size": "1024x1024", "quality": "standard", "n": "1"}
EDIT_BASE = {"operation": "variation", "model": "offline", "source": "@image", "prompt": "a lighthouse"}
EDIT_CONTEXTS = {name: (_edit_context(op),) for name, op in EDIT_CONTEXT.items()}
EDIT_CONTEXTS["source"] = ({}, _edit_context("edit"), _edit_context("outpaint"))
EDIT_CONTEXTS["model"] = ({}, {"operation": "edit"}, {"operation": "outpaint", "extend_aspect": "16:9"})
COMPARE_BASE = {
    "prompt": "a lighthouse",
    "aspect_ratio": "1:1",
    "quality": "default",
    "models": ["offline", "offline-watercolor"],
}
BATTLE_BASE = {"prompt": "a lighthouse", "aspect_ratio": "1:1"}
SWEEP_BASE = {
    "prompt": "a lighthouse",
    "aspect_ratio": "1:1",
    "model": "offline",
    "setting": "quality",
    "values": "draft, high",
}
# The fields POST /api/v1/jobs reads (checked against studio/api.py by the table test).
# fmt: off
API_FIELDS = ("model", "prompt", "negative_prompt", "size", "aspect_ratio", "quality", "n", "seed", "options",
              "operation", "image", "mask", "references", "source_image", "extend", "extend_aspect", "strength",
              "factor", "search_prompt", "control_kind", "control_strength", "fidelity")
GRID_FIELDS = ("scope", "model", "favourites", "q", "user", "operation", "board", "tag", "from", "to", "sort", "cursor",
               "saved")
# fmt: on
API_CONTEXTS = {
    **{name: (_edit_context(op) | {"source_image": "@image"},) for name, op in EDIT_CONTEXT.items()},
    "extend": (_edit_context("outpaint") | {"source_image": "@image"},),
    "image": ({"operation": "variation"}, {"operation": "outpaint", "extend_aspect": "16:9"}),
    "mask": (
        _edit_context("edit") | {"source_image": "@image"},
        _edit_context("outpaint") | {"source_image": "@image", "extend_aspect": "16:9"},
    ),
    "source_image": ({"operation": "variation"}, {"operation": "upscale"}),
    "operation": ({"source_image": "@image"},),
}
# The compatible APIs' fields (compat/openai_api.py, compat/a1111_api.py).
# fmt: off
OPENAI_FIELDS = ("model", "prompt", "negative_prompt", "n", "size", "quality", "response_format", "user",
                 "safety_identifier", "seed", "background", "moderation", "output_format", "output_compression",
                 "style", "input_fidelity", "complexity", "stream", "partial_images")
OPENAI_VARIATION_FIELDS = ("model", "n", "size", "response_format", "user", "safety_identifier", "seed")
A1111_FIELDS = ("prompt", "negative_prompt", "width", "height", "steps", "cfg_scale", "sampler_name", "sampler_index",
                "seed", "batch_size", "n_iter", "override_settings")
A1111_IMG2IMG_FIELDS = (*A1111_FIELDS, "init_images", "mask", "inpainting_mask_invert", "denoising_strength",
                        "mask_blur", "inpainting_fill", "inpaint_full_res")
# fmt: on
PNG_BASE64 = base64.b64encode(fuzz.mask_png()).decode()
GRID_CONTEXTS = {"cursor": ({"sort": "newest"}, {"sort": "oldest"}, {"sort": "favourites"})}
BULK_CONTEXTS = {
    "ids": ({"action": "zip"}, {"action": "board", "board": "@board"}, {"action": "tag"}, {"action": "delete"}),
    "board": ({"action": "board"},),
    "new_board": ({"action": "board"},),
}

SPECS: dict[str, Spec] = {
    "studio:home": Spec(query=("reuse", "job", "before")),
    "studio:job_updates": Spec(query=("watch", "page"), many=frozenset({"watch"})),
    "studio:jobs_older": Spec(query=("before",)),
    "studio:job_preview": Spec(path={"pk": "job"}),
    "studio:image_favourite": Spec(path={"image_pk": "image"}),
    "studio:image_quick_action": Spec(form=("action",), base={"action": "vary"}, path={"image_pk": "image"}),
    "studio:prompt_history": Spec(query=("q",)),
    "studio:model_fields": Spec(query=JOB_FIELDS, base={"model": "offline"}),
    "studio:settings_import": Spec(form=("image", "model"), multipart=True),
    "studio:job_submit": Spec(form=(*_form_fields(JobForm), "page"), base=JOB_BASE),
    "studio:job": Spec(path={"pk": "job"}),
    "studio:job_cancel": Spec(path={"pk": "queued_job"}),
    "studio:job_retry": Spec(form=("fresh", "collect"), path={"pk": "failed_job"}),
    "studio:midjourney_action": Spec(form=("action",), base={"action": "V1"}, path={"image_pk": "grid_image"}),
    "studio:editor": Spec(query=("operation", "job")),
    "studio:editor_image": Spec(query=("operation",), path={"pk": "image"}),
    "studio:editor_fields": Spec(
        query=EDIT_FIELDS, base={"operation": "edit", "model": "offline"}, contexts=EDIT_CONTEXTS
    ),
    "studio:editor_submit": Spec(
        form=EDIT_FIELDS, base=EDIT_BASE, contexts=EDIT_CONTEXTS, many=frozenset({"references"}), multipart=True
    ),
    "studio:costs": Spec(query=("start", "end")),
    "studio:costs_csv": Spec(query=("start", "end")),
    "studio:providers": Spec(),
    "studio:provider_check": Spec(path={"provider_id": "provider"}),
    "studio:budget_set": Spec(form=("monthly_usd",), path={"user_id": "user"}, clients=("staff", "user")),
    "studio:compare": Spec(),
    "studio:compare_create": Spec(
        form=tuple(ComparisonForm.base_fields), base=COMPARE_BASE, many=frozenset({"models"})
    ),
    "studio:compare_sweep": Spec(form=tuple(SweepForm.base_fields), base=SWEEP_BASE),
    "studio:leaderboard": Spec(query=("category", "votes", "models")),
    "studio:battle": Spec(query=("prompt",), form=tuple(BattleForm.base_fields), base=BATTLE_BASE),
    "studio:comparison": Spec(path={"pk": "comparison"}),
    "studio:comparison_column": Spec(query=("show",), path={"pk": "comparison", "position": "comparison_column"}),
    "studio:comparison_image": Spec(path={"pk": "comparison", "position": "comparison_column"}),
    "studio:comparison_vote": Spec(form=("vote",), base={"vote": "best:0"}, path={"pk": "comparison"}),
    "studio:comparison_rerun": Spec(form=("add_models",), many=frozenset({"add_models"}), path={"pk": "comparison"}),
    "gallery:grid": Spec(
        query=GRID_FIELDS,
        contexts=GRID_CONTEXTS,
    ),
    "gallery:bulk": Spec(
        form=("ids", "action", "next", "board", "new_board", "tag"),
        many=frozenset({"ids"}),
        base={"ids": ["@image"], "action": "tag", "tag": "fuzzed", "next": "/gallery/"},
        contexts=BULK_CONTEXTS,
    ),
    "gallery:saved_search_create": Spec(form=("name", "query", "shared"), base={"name": "mine", "query": "q=fox"}),
    "gallery:saved_search_delete": Spec(path={"pk": "saved_search"}),
    "gallery:boards": Spec(),
    "gallery:board_create": Spec(form=("name",)),
    "gallery:board_delete": Spec(path={"pk": "board"}),
    "gallery:tags": Spec(form=("tag", "remove"), path={"pk": "image"}),
    "gallery:image_boards": Spec(form=("board", "new_board", "remove"), path={"pk": "image"}),
    "gallery:detail": Spec(path={"pk": "image"}),
    "gallery:file": Spec(path={"pk": "image"}),
    "gallery:thumbnail": Spec(path={"pk": "image"}),
    "gallery:download": Spec(path={"pk": "image"}),
    "gallery:mask": Spec(path={"pk": "mask_image"}),
    "gallery:delete": Spec(path={"pk": "image"}),
    "gallery:favourite": Spec(path={"pk": "image"}),
    "accounts:tokens": Spec(),
    "accounts:token_create": Spec(form=tuple(TokenForm.base_fields), base={"name": "script", "scope": "read"}),
    "accounts:token_delete": Spec(path={"pk": "token"}),
    "accounts:lockouts": Spec(clients=("staff", "user")),
    "accounts:lockout_unlock": Spec(
        form=("username", "ip_address"), base={"username": "alice"}, clients=("staff", "user")
    ),
    "login": Spec(
        query=("next",),
        form=(*LoginForm.base_fields, "next"),
        clients=("anonymous",),
        base={"username": "alice", "password": "not-her-password"},
    ),
    "logout": Spec(),
    "api:models": Spec(clients=("api",)),
    "healthz": Spec(clients=("anonymous", "user")),
    "api:jobs": Spec(
        json=(*API_FIELDS, *(f"options:{k.value}" for k in catalog.OptionKind), "<body>"),
        base={"model": "offline", "prompt": "a lighthouse"},
        contexts=API_CONTEXTS,
        clients=("api",),
    ),
    "api:job": Spec(path={"pk": "job"}, clients=("api",)),
    "api:job_retry": Spec(json=("fresh", "collect", "<body>"), path={"pk": "failed_job"}, clients=("api",)),
    "api:images": Spec(query=("cursor", "model", "mine", "q", "saved"), clients=("api",)),
    "compat:openai-models": Spec(clients=("api",)),
    "compat:openai-model": Spec(path={"model_id": "provider"}, clients=("api",)),
    "compat:openai-generations": Spec(
        json=(*OPENAI_FIELDS, "<body>"),
        base={"model": "offline", "prompt": "a lighthouse"},
        clients=("api",),
        waits=True,
    ),
    "compat:openai-edits": Spec(
        form=OPENAI_FIELDS,
        base={"model": "offline", "prompt": "a lighthouse"},
        files=("image",),
        multipart=True,
        clients=("api",),
        waits=True,
    ),
    "compat:openai-variations": Spec(
        form=OPENAI_VARIATION_FIELDS,
        base={"model": "offline"},
        files=("image",),
        multipart=True,
        clients=("api",),
        waits=True,
    ),
    "compat:a1111-sd-models": Spec(clients=("api",)),
    "compat:a1111-options": Spec(json=("sd_model_checkpoint", "<body>"), clients=("api",)),
    "compat:a1111-txt2img": Spec(
        json=(*A1111_FIELDS, "<body>"), base={"prompt": "a lighthouse"}, clients=("api",), waits=True
    ),
    "compat:a1111-img2img": Spec(
        json=(*A1111_IMG2IMG_FIELDS, "<body>"),
        base={"prompt": "a lighthouse", "init_images": [PNG_BASE64]},
        contexts={"inpainting_mask_invert": ({"mask": PNG_BASE64},), "init_images": ({}, {"mask": PNG_BASE64})},
        clients=("api",),
        waits=True,
    ),
    "api:saved_searches": Spec(clients=("api",)),
    "api:settings_import": Spec(form=("image", "model"), multipart=True, clients=("api",)),
}


@functools.cache
def htmx_variants(route_name: str) -> tuple[dict[str, str], ...]:
    """Plain, and as htmx (and as htmx aimed at a target) where the view's code tells them apart."""
    source = fuzz.view_source(ROUTES[route_name].callback)
    variants: list[dict[str, str]] = [{}]
    if "htmx" in source:
        variants.append({"HX-Request": "true"})
    for target in re.findall(r"htmx\.target == \"([\w-]+)\"", source):
        variants.append({"HX-Request": "true", "HX-Target": target})
    return tuple(variants)


# --- the world: two users' rows of every kind ------------------------------------------------------


@dataclass
class World:
    ids: dict[str, tuple[Any, Any]]  # kind -> (alice's, bob's)
    clients: dict[str, Client]
    cookies: dict[str, dict[str, str]]  # the session cookies each client started with
    files: dict[str, bytes]
    media: Path
    cursors: tuple[str, ...]
    mask_png: bytes

    def own(self, kind: str) -> Any:
        return self.ids[kind][0]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str) and value.startswith("@"):
            return str(self.own(value[1:]))
        return value

    def path_values(self, kind: str) -> tuple[str, ...]:
        own, other = self.ids[kind]
        hostile = fuzz.SWEPT_SLUGS if kind == "provider" else fuzz.SWEPT_IDS
        return (str(own), str(other), *hostile)

    def restore(self, call: Call) -> None:
        """Put back what a request changed outside its rolled-back transaction: files it deleted,
        the client's cookies (a log-out drops the session)."""
        if call.method != "GET":
            for name, data in self.files.items():
                if not default_storage.exists(name):
                    default_storage.save(name, ContentFile(data))
        client = self.clients[call.who]
        client.cookies = SimpleCookie(self.cookies[call.who])


def _grid_job(owner) -> Job:
    request = specs.build(model="midjourney-v7", prompt="a lighthouse", available=False)
    return make_job(
        owner,
        model_id="midjourney-v7",
        params=specs.to_params(request),
        status=Job.Status.SUCCEEDED,
        usage={"grid": True, "task_id": "task-1", "buttons": []},
    )


def _rows_for(user) -> dict[str, Any]:
    """One row of each kind for `user`."""
    image = make_image(make_job(user, status=Job.Status.SUCCEEDED))
    mask_job = make_job(
        user,
        status=Job.Status.SUCCEEDED,
        operation="edit",
        mask_file=default_storage.save("masks/t/m.png", ContentFile(fuzz.mask_png())),
    )
    mask_image = make_image(mask_job)
    grid_image = make_image(_grid_job(user))
    comparison = Comparison.objects.create(
        owner=user,
        prompt="a lighthouse",
        category="fuzz",
        settings={"aspect_ratio": "1:1", "quality": "default", "seed": 1, "models": ["offline", "offline-watercolor"]},
    )
    columns = [
        make_job(user, status=Job.Status.SUCCEEDED, comparison=comparison, column=i, model_id=m)
        for i, m in enumerate(["offline", "offline-watercolor"])
    ]
    for job in columns:
        make_image(job)
    board = Board.objects.create(name=f"board of {user.username}", created_by=user)
    BoardImage.objects.create(board=board, image=image, added_by=user)
    tag = Tag.objects.create(name=f"tag-{user.username}")
    image.tags.add(tag)
    services.favourite_toggle(user=user, image=image)
    token = ApiToken.objects.create(user=user, name="spare", digest=hash_token(ApiToken.new_raw()), hint="spare")
    saved = SavedSearch.objects.create(owner=user, name=f"{user.username}'s foxes", query="q=fox")
    return {
        "user": user.pk,
        "image": image.pk,
        "mask_image": mask_image.pk,
        "grid_image": grid_image.pk,
        "job": image.job_id,
        "queued_job": make_job(user).pk,
        "failed_job": make_job(user, status=Job.Status.FAILED, error_kind="provider", error_message="x").pk,
        "comparison": comparison.pk,
        "comparison_column": columns[0].column,
        "board": board.pk,
        "tag": tag.name,
        "token": token.pk,
        "saved_search": saved.pk,
    }


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """The rows every case starts from, made once for the module and rolled back after it (each
    request runs in a savepoint that is rolled back too)."""
    media = tmp_path_factory.mktemp("fuzz-media")
    with fuzz.module_rows(django_db_blocker, media), fuzz.quiet_request_log():
        alice, bob = make_user(username="alice"), make_user(username="bob")
        carol = make_user(username="carol", is_staff=True)
        mine, theirs = _rows_for(alice), _rows_for(bob)
        # A second comparison of Bob's, a sweep, so rerun and detail take both kinds.
        settings = {"aspect_ratio": "1:1", "seed": 1, "model": "offline", "setting": "quality", "values": ["draft"]}
        Comparison.objects.create(owner=bob, kind=Comparison.Kind.SWEEP, prompt="x", settings=settings)
        ids = {kind: (mine[kind], theirs[kind]) for kind in mine}
        ids["provider"] = ("offline", "openai")
        raw = ApiToken.new_raw()
        ApiToken.objects.create(user=alice, name="api", digest=hash_token(raw), hint=raw[:8])
        clients = {"user": Client(), "staff": Client(), "anonymous": Client()}
        clients["api"] = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients["user"].force_login(alice)
        clients["staff"].force_login(carol)
        image = Image.objects.get(pk=mine["image"])
        yield World(
            ids=ids,
            clients=clients,
            cookies={who: {name: m.value for name, m in c.cookies.items()} for who, c in clients.items()},
            files={str(f.relative_to(media)): f.read_bytes() for f in media.rglob("*") if f.is_file()},
            media=media,
            cursors=tampered_cursors(selectors.encode_cursor(image), image),
            mask_png=fuzz.mask_png(),
        )


@pytest.fixture(autouse=True)
def fuzz_settings(world, settings, media_root):
    """The world's media folder; every provider "configured", at an address nothing listens on, so
    every model takes requests (and their options are parsed) and nothing leaves the machine."""
    settings.MEDIA_ROOT = world.media
    settings.LIVE_WAIT_SECONDS = 0.02  # a live-update poll answers at once
    settings.LIVE_CHECK_SECONDS = 0.005
    settings.PROVIDER_SETTINGS = {
        name: {key: "http://127.0.0.1:9" if key == "base_url" else "fuzz-key" for key in conf}
        for name, conf in settings.PROVIDER_SETTINGS.items()
    }
    settings.COMPAT_WAIT_SECONDS = 0  # no job runs here: the compatible APIs answer "still running" at once


def tampered_cursors(real: str, image) -> tuple[str, ...]:
    """A real cursor, altered: cut, flipped, re-padded, and re-encoded around hostile sort keys."""

    def enc(raw: str | bytes) -> str:
        import base64

        return base64.urlsafe_b64encode(raw.encode() if isinstance(raw, str) else raw).decode()

    when = image.created_at.isoformat()
    return (
        real,
        real[:-3],
        real.rstrip("="),
        real[:5] + ("A" if real[5] != "A" else "B") + real[6:],
        real + "%%%",
        enc("[1e999, 1]"),
        enc("[1e999, 1e999, 1]"),
        enc('["1e999", "1e999"]'),
        enc('["NaN", NaN]'),
        enc(f'["{when}", {fuzz.HUGE}]'),
        enc(f'["{when}", 1e999]'),
        enc(f'[{fuzz.HUGE}, "{when}", 1]'),
        enc(f'["{when}", "²"]'),
        enc('["9999-12-31T23:59:59.999999-23:59", 1]'),
        enc('["0001-01-01T00:00:00+14:00", 1]'),
        enc('["0000-00-00", 1]'),
        enc("[null, null]"),
        enc("[[], {}]"),
        enc('{"a": 1}'),
        enc("[true, false]"),
        enc("[" * 50_000 + "]" * 50_000),
        enc(b"\xff\xfe"),
        enc(f'["{when}", 1, 2, 3]'),
    )


# --- one request ---------------------------------------------------------------------------------


@dataclass
class Call:
    """A request to send: route, method, path kwargs, fields (list values for getlist fields)."""

    route: fuzz.Route
    spec: Spec
    method: str
    who: str
    headers: dict[str, str]
    kwargs: dict[str, str]
    fields: dict[str, Any]
    files: list[tuple[str, str, bytes]] = field(default_factory=list)
    body: bytes | None = None  # a whole JSON body, instead of the fields


def _pairs(fields: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, str(item)))
    return pairs


def _json_body(fields: dict[str, Any]) -> bytes:
    """Fields whose values are JSON fragments (strings starting `json:`) or plain values."""
    parts = []
    for name, value in fields.items():
        text = value[5:] if isinstance(value, str) and value.startswith("json:") else json.dumps(value)
        parts.append(f"{json.dumps(name)}: {text}")
    return ("{" + ", ".join(parts) + "}").encode("utf-8", "surrogatepass")


def _api_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Gallery ids as numbers and `options:<kind>` as the options object, as a script would send."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "source_image" and isinstance(value, str) and value.isdecimal():
            out[name] = int(value)
        elif name.startswith("options."):
            option = name.removeprefix("options.")
            text = value[5:] if isinstance(value, str) and value.startswith("json:") else json.dumps(value)
            out["options"] = "json:{" + json.dumps(option) + ": " + text + "}"
        else:
            out[name] = value
    return out


def deliver(world: World, call: Call) -> fuzz.Outcome:
    client = world.clients[call.who]
    path = call.route.path(**call.kwargs)
    query, body, content_type = "", b"", ""
    if call.body is not None:
        body, content_type = call.body, "application/json"
    elif call.spec.json:
        body, content_type = _json_body(_api_fields(call.fields)), "application/json"
    elif call.method == "GET":
        query = fuzz.urlencoded(_pairs(call.fields))
    elif call.spec.multipart or call.files:
        body, content_type = fuzz.multipart(_pairs(call.fields), call.files), fuzz.MULTIPART
    else:
        body, content_type = fuzz.urlencoded(_pairs(call.fields)).encode(), "application/x-www-form-urlencoded"
    with transaction.atomic():
        outcome = fuzz.send(
            client,
            call.method,
            path + ("?" + query if query else ""),
            body=body,
            content_type=content_type,
            headers=call.headers,
        )
        transaction.set_rollback(True)
    world.restore(call)
    if call.spec.waits and fuzz.still_running(outcome):
        outcome.failure_error = ""
    return outcome


# --- building calls ------------------------------------------------------------------------------

GENERATE_OPTIONS = {
    kind: [
        (m.id, "generate", o.name)
        for m in catalog.models_for(catalog.Operation.GENERATE)
        for o in m.options_for(catalog.Operation.GENERATE)
        if o.kind == kind
    ]
    for kind in catalog.OptionKind
}
EDIT_OPTIONS = {
    kind: [
        (m.id, op.value, o.name)
        for op in catalog.Operation
        if op.value != "generate"
        for m in catalog.models_for(op)
        for o in m.options_for(op)
        if o.kind == kind
    ]
    for kind in catalog.OptionKind
}


def _option_target(route_name: str, kind: str, index: int) -> tuple[dict[str, Any], str] | None:
    """(context, field name) for the index-th option of a kind the route's form shows."""
    kind_enum = catalog.OptionKind(kind)
    edit = route_name in ("studio:editor_fields", "studio:editor_submit")
    pairs = (EDIT_OPTIONS if edit else GENERATE_OPTIONS)[kind_enum]
    if not pairs:
        return None
    model, operation, name = pairs[index % len(pairs)]
    context = {"model": model}
    if edit:
        context["operation"] = operation
    if route_name == "api:jobs":
        return context | ({"source_image": "@image"} if operation != "generate" else {}), f"options.{name}"
    return context, OPTION_PREFIX + name


def _has_targets(route_name: str, param: str) -> bool:
    """False for an option kind no model of the route's form has (no float option in edits, say)."""
    if not param.startswith(("opt:", "options:")):
        return True
    return _option_target(route_name, param.split(":", 1)[1], 0) is not None


@dataclass(frozen=True)
class Case:
    route: str
    method: str
    who: str
    param: str  # a field, "<path>", "<body>" or "<none>"

    @property
    def id(self) -> str:
        who = "" if self.who in ("user", "api", "anonymous") else f"-as-{self.who}"
        return f"{self.route}-{self.method}{who}-{self.param}"


# Fields whose text PostgreSQL parses itself (full-text search): every value matters there.
SEARCHED = {"q"}


def database_pass() -> bool:
    """CI's second pass, on PostgreSQL: only what reaches the database differently from SQLite."""
    return fuzz.on_postgresql() and not fuzz.NIGHTLY


def cases() -> Iterator[Case]:
    for name in sorted(SPECS):
        spec, route = SPECS[name], ROUTES.get(name)
        if route is None:
            continue
        for method in fuzz.accepted_methods(route.callback):
            for who in spec.clients:
                params = [
                    p for p in (spec.query if method == "GET" else spec.form + spec.json) if _has_targets(name, p)
                ]
                if route.converters:
                    params.append("<path>")
                if database_pass():  # nothing typed, or a body that is not JSON, reads no differently
                    params = [p for p in params if p != "<body>"]
                    if not params:
                        continue
                yield from (Case(name, method, who, p) for p in params or ["<none>"])


def _values(world: World, case: Case, spec: Spec) -> tuple[Any, ...]:
    if case.param in ("<path>", "<none>"):
        return (None,)
    if spec.json:
        if case.param == "<body>":
            return fuzz.HOSTILE_BODIES
        return tuple("json:" + v for v in (fuzz.DATABASE_JSON if database_pass() else fuzz.SWEPT_JSON))
    if database_pass() and case.param not in SEARCHED:
        return (*world.cursors, *fuzz.DATABASE_TEXT) if case.param == "cursor" else fuzz.DATABASE_TEXT
    if case.param == "cursor":
        return (*world.cursors, *fuzz.SWEPT_TEXT)
    if case.param in SHAPED:
        return tuple(dict.fromkeys((*fuzz.SWEPT_TEXT, *fuzz.SHAPES)))
    if case.param in DATED:
        return tuple(dict.fromkeys((*fuzz.SWEPT_TEXT, *fuzz.DAYS)))
    return fuzz.SWEPT_TEXT


def build_call(
    world: World,
    case: Case,
    value: Any,
    *,
    context: dict[str, Any],
    headers: dict[str, str],
    index: int = 0,
    kwargs: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Call:
    spec, route = SPECS[case.route], ROUTES[case.route]
    kwargs = kwargs or {kw: str(world.own(kind)) for kw, kind in spec.path.items()}
    fields = {**spec.base, **context}
    param = case.param
    if param.startswith(("opt:", "options:")):
        option_context, param = _option_target(case.route, param.split(":", 1)[1], index)
        fields.update(option_context)
    if spec.json and fields.get("operation", "generate") != "generate" and param != "image":
        fields.setdefault("source_image", "@image")
    fields = {k: world.resolve(v) for k, v in fields.items()}
    if param and param not in ("<path>", "<none>", "<body>"):
        fields[param] = [value] if param in spec.many and not isinstance(value, list) else value
    for name, other in (extra or {}).items():
        fields[name] = other
    files = []
    if case.route == "studio:editor_submit" and fields.get("operation") in ("edit", "erase") and "mask" not in fields:
        files.append(("mask", "mask.png", world.mask_png))
    files += [(name, f"{name}.png", world.mask_png) for name in spec.files if name not in fields]
    body = value if param == "<body>" else None
    return Call(route, spec, case.method, case.who, headers, kwargs, fields, files, body)


def _failure(case: Case, call: Call, param: str, value: Any, outcome: fuzz.Outcome) -> fuzz.Failure:
    htmx = " (htmx)" if call.headers else ""
    return fuzz.Failure(
        case.route, case.method + htmx, param, fuzz.short(value), outcome.failure_error, outcome.where or "?"
    )


# --- open findings: each mark goes when its finding is fixed (an XPASS says so) -------------------
KNOWN: dict[str, str] = {}


# Only PostgreSQL refuses NUL in text and over-long strings in a varchar (SQLite stores them).
KNOWN_ON_POSTGRESQL: dict[str, str] = {}


def explored_in_ci() -> set[Case]:
    """CI's generated examples: one per route, method and client, at its first case (the example
    makes up to three of the route's other fields hostile too); nightly, every case's."""
    firsts: dict[tuple[str, str, str], Case] = {}
    for case in cases():
        firsts.setdefault((case.route, case.method, case.who), case)
    return set(firsts.values())


EXPLORED_IN_CI = explored_in_ci()


def _params() -> list:
    known = KNOWN | (KNOWN_ON_POSTGRESQL if fuzz.on_postgresql() else {})
    return [fuzz.case(case, id=case.id, known=known) for case in cases()]


# Made once: hypothesis checks a strategy the first time it draws from it.
HOSTILE_TEXT_VALUES = fuzz.text_values()
HOSTILE_JSON_VALUES = fuzz.json_values().map(lambda v: "json:" + v)


@pytest.mark.parametrize("case", _params())
def test_no_hostile_value_gets_a_5xx(world, case: Case):
    spec = SPECS[case.route]
    failures: dict[tuple, fuzz.Failure] = {}
    variants = htmx_variants(case.route)
    swept = variants if fuzz.NIGHTLY else variants[-1:]  # CI: plain requests in the generated examples
    contexts = spec.contexts.get(case.param, ({},))

    # 1. Every listed hostile value: nightly, in every context and every variant; CI, as htmx where
    # the view tells it apart, and in one context, the contexts taking turns.
    if case.param == "<path>":
        for kw, kind in spec.path.items():
            for value in world.path_values(kind):
                for headers in swept:
                    kwargs = {k: str(world.own(kd)) for k, kd in spec.path.items()} | {kw: value}
                    call = build_call(world, case, None, context={}, headers=headers, kwargs=kwargs)
                    outcome = deliver(world, call)
                    if outcome.failed:
                        fuzz.record(failures, _failure(case, call, f"<{kw}>", value, outcome))
    else:
        for index, value in enumerate(_values(world, case, spec)):
            for context in contexts if fuzz.NIGHTLY else contexts[index % len(contexts) :][:1]:
                for headers in swept:
                    call = build_call(world, case, value, context=context, headers=headers, index=index)
                    outcome = deliver(world, call)
                    if outcome.failed:
                        shown = value[5:] if isinstance(value, str) and value.startswith("json:") else value
                        fuzz.record(failures, _failure(case, call, case.param, shown, outcome))

    # 2. Generated values, some with other fields hostile too.
    read = spec.query if case.method == "GET" else spec.form + spec.json
    fields = [f for f in read if f != case.param and ":" not in f and not f.startswith("<")]
    hostile = HOSTILE_JSON_VALUES if spec.json else HOSTILE_TEXT_VALUES

    sent = itertools.count()

    @fuzz.FUZZ
    @given(data=st.data())
    def explore(data):
        # The examples take turns: plain, htmx, htmx aimed at a target (so CI's few try each).
        headers = variants[next(sent) % len(variants)]
        context = data.draw(st.sampled_from(contexts))
        kwargs = None  # a field's examples use the user's own rows; the <path> case varies the ids
        if case.param == "<path>":
            kwargs = {kw: data.draw(st.sampled_from(world.path_values(kind))) for kw, kind in spec.path.items()}
        others = data.draw(st.dictionaries(st.sampled_from(fields), hostile, max_size=3)) if fields else {}
        if case.param in ("<path>", "<none>"):
            value = None
        elif case.param == "<body>":
            value = data.draw(st.sampled_from(fuzz.HOSTILE_BODIES) | st.binary(max_size=200))
        elif case.param in spec.many:
            value = data.draw(st.lists(hostile, min_size=1, max_size=3))
        elif case.param == "cursor":
            value = data.draw(st.sampled_from(world.cursors) | hostile)
        else:
            value = data.draw(hostile)
        index = data.draw(st.integers(0, 200))
        call = build_call(
            world, case, value, context=context, headers=headers, index=index, kwargs=kwargs, extra=others
        )
        outcome = deliver(world, call)
        if outcome.failed:
            given_values = {case.param: value, **others}
            shown = {
                k: fuzz.short(v.removeprefix("json:") if isinstance(v, str) else v, 30) for k, v in given_values.items()
            }
            fuzz.record(failures, _failure(case, call, case.param, shown, outcome))

    if fuzz.NIGHTLY or (case in EXPLORED_IN_CI and not database_pass()):
        explore()
    assert not failures, fuzz.report(failures)


# --- the table itself ----------------------------------------------------------------------------

# What a view reads by name: request.GET/POST (or an alias `get`), and the API's JSON `payload`.
READS = re.compile(r"(?:request\.(?:GET|POST)|\bget|\bpayload)(?:\.get(?:list)?\(\s*|\[)\"(\w+)\"")
NAMES = re.compile(r"\bname=\"(\w+)\"")


# A function a view hands its whole query or form to (gallery.selectors.filters_from(request.GET)):
# what it reads by name is read by the view's module too.
HANDS_OVER = re.compile(r"([\w.]+)\(\s*(?:request\.(?:GET|POST)\b(?!\.)|QueryDict\()")


def helper_reads(module: Any) -> set[str]:
    reads: set[str] = set()
    for dotted in set(HANDS_OVER.findall(inspect.getsource(module))):
        target = module
        for part in dotted.split("."):
            target = getattr(target, part, None)
        if not inspect.isfunction(target):
            continue  # a form, or a builtin such as set()
        mapping = next(iter(inspect.signature(target).parameters))
        pattern = rf'(?:\b{mapping}\.get(?:list)?\(|\b{mapping}\[|\bget\()\s*"(\w+)"'  # `get = query.get` too
        reads |= set(re.findall(pattern, inspect.getsource(target)))
    return reads


def test_every_route_has_a_name_of_its_own():
    """The table is keyed by route name: two patterns under one name (or none) would leave one
    of them unfuzzed, silently."""
    names = [route.name for route in ALL_ROUTES]
    assert [route.template for route in ALL_ROUTES if not route.name] == [], "name these URL patterns"
    assert sorted({name for name in names if names.count(name) > 1}) == [], "these names are used twice"


def test_every_view_declares_its_methods():
    """The fuzz sends each view the methods it declares (require_GET, require_POST,
    require_http_methods, a class's handlers); one that declares none would get GET and POST only."""
    assert [route.name for route in ALL_ROUTES if fuzz.declared_methods(route.callback) is None] == []


def test_the_table_covers_every_route_and_every_parameter():
    """Every URL has an entry; every parameter a view reads by name (or a function it hands the
    whole query or form to), and every field a template names, is fuzzed on some route of that app."""
    missing_routes = sorted(set(ROUTES) - set(SPECS))
    assert not missing_routes, f"add these routes to SPECS: {missing_routes}"
    assert not set(SPECS) - set(ROUTES), f"SPECS names routes that are gone: {sorted(set(SPECS) - set(ROUTES))}"
    fuzzed: dict[str, set[str]] = {}
    for name, spec in SPECS.items():
        module = ROUTES[name].callback.__module__
        fuzzed.setdefault(module, set()).update(spec.query, spec.form, spec.json)
    unfuzzed = []
    for module, names in fuzzed.items():
        source = Path(importlib.import_module(module).__file__).read_text()
        unfuzzed += [f"{module}: {read}" for read in set(READS.findall(source)) - names]
        unfuzzed += [f"{module}, by a helper: {read}" for read in helper_reads(importlib.import_module(module)) - names]
    api_reads = {*getattr(api, "REQUEST_KEYS", ()), *specs.EDIT_NUMBERS}
    unfuzzed += [f"studio.api: {read}" for read in api_reads - set(API_FIELDS)]
    every = set().union(*fuzzed.values())
    root = Path(__file__).resolve().parent.parent
    for template in [*root.glob("templates/**/*.html"), *root.glob("*/templates/**/*.html")]:
        unfuzzed += [f"{template.name}: {n}" for n in set(NAMES.findall(template.read_text())) - every - {"viewport"}]
    assert not unfuzzed, f"parameters read but not fuzzed: {sorted(unfuzzed)}"
