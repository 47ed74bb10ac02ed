"""Comparisons: one prompt fanned out to several models (or one model over a setting's values),
blind or labelled, and the team's votes with the games they decide (ranked in leaderboard.py)."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.http import urlencode

from studio import catalog, jobs, specs
from studio.models import Comparison, Game, Job, Vote
from studio.specs import ImageRequest
from studio.templatetags.options import as_words

MIN_COLUMNS, MAX_COLUMNS = 2, 6
ASPECTS = ("1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "3:4", "21:9")
QUALITY_TIERS = {"default": "Each model's default", "lowest": "Lowest", "highest": "Highest"}


class ComparisonNotFinished(Exception):
    pass


def _ratio(aspect: str) -> float:
    w, h = specs.parse_aspect(aspect) or (1, 1)
    return w / h


def quality_for(model: catalog.Model, tier: str) -> str:
    concrete = [q for q in model.qualities if q != "auto"] or list(model.qualities)
    return {"lowest": concrete[0], "highest": concrete[-1]}.get(tier, model.default_quality)


@dataclass(frozen=True)
class Column:
    request: ImageRequest
    notes: tuple[str, ...]


def model_column(
    model: catalog.Model, *, prompt: str, negative: str, aspect: str, tier: str, seed: int, **overrides: Any
) -> Column:
    """One model's job in a comparison, fitted to what it accepts, with notes on every adjustment.
    `overrides` (quality, options) are a sweep's value, checked like any request."""
    notes = []
    try:
        size = specs.resolve_size(model, aspect_ratio=aspect)  # a preset, or an exact free size
    except specs.Invalid:
        size = model.nearest_size(_ratio(aspect))
        notes.append(f"No {aspect}; nearest is {size.aspect} ({size.width}×{size.height}).")
    if negative and not model.negative_prompt:
        notes.append("Ignores the negative prompt.")
    seed_max = model.seed_max or catalog.SEED_MAX
    if not model.seed:
        notes.append("Takes no seed; results vary run to run.")
    elif seed > seed_max:
        # The columns no longer share a seed: say so on this one rather than change it quietly.
        notes.append(f"Seed {seed:,} is past {model.label}'s largest; it used {seed_max:,}.")
    request = specs.build(
        model=model,
        prompt=prompt,
        negative_prompt=negative if model.negative_prompt else "",
        size=size,
        quality=overrides.get("quality") or quality_for(model, tier),
        seed=min(seed, seed_max),
        options=overrides.get("options"),
    )
    return Column(request, tuple(notes))


def parse_sweep_value(model: catalog.Model, setting: str, value: str) -> Any:
    """One value of a sweep, typed; ValueError says what is wrong with it."""
    if setting == "quality":
        if value not in model.qualities:
            raise ValueError(f"{model.label} has no quality “{value}” ({', '.join(model.qualities)}).")
        return value
    option = model.option(setting)
    if option is None:
        names = ", ".join(["quality", *(o.name for o in model.options)])
        raise ValueError(f"{model.label} has no setting “{setting}”. Sweepable: {names}.")
    return specs.coerce_option(option, value)


def _seed(seed: int | None, model_ids: list[str]) -> int:
    """The seed every column gets: the one asked for, else a random one every model takes as it is."""
    if seed is not None:
        return seed
    seeded = [catalog.MODELS[m].seed_max for m in model_ids if catalog.MODELS[m].seed_max is not None]
    return secrets.randbelow(min(seeded, default=catalog.SEED_MAX) + 1)


@transaction.atomic
def comparison_create(
    *, owner: AbstractBaseUser, prompt: str, negative_prompt: str, aspect_ratio: str, quality: str,
    seed: int | None, category: str, models: list[str], blind: bool = True, rerun_of: Comparison | None = None,
) -> Comparison:  # fmt: skip
    """A model comparison; blind ones get their columns in a random order, stored as the jobs'
    column numbers, so every viewer sees the same letters."""
    seed = _seed(seed, models)
    comparison = Comparison.objects.create(
        owner=owner,
        prompt=prompt,
        negative_prompt=negative_prompt,
        settings={"aspect_ratio": aspect_ratio, "quality": quality, "seed": seed, "models": models},
        category=category,
        blind=blind,
        rerun_of=rerun_of,
    )
    order = random.sample(models, len(models)) if blind else models
    for index, model_id in enumerate(order):
        column = model_column(
            catalog.MODELS[model_id],
            prompt=prompt,
            negative=negative_prompt,
            aspect=aspect_ratio,
            tier=quality,
            seed=seed,
        )
        jobs.job_create(owner=owner, request=column.request, comparison=comparison, column=index, notes=column.notes)
    return comparison


@transaction.atomic
def sweep_create(
    *, owner: AbstractBaseUser, prompt: str, negative_prompt: str, aspect_ratio: str, seed: int | None,
    category: str, model: str, setting: str, values: list[Any], rerun_of: Comparison | None = None,
) -> Comparison:  # fmt: skip
    seed = _seed(seed, [model])
    settings = {"aspect_ratio": aspect_ratio, "seed": seed, "model": model, "setting": setting, "values": values}
    comparison = Comparison.objects.create(
        owner=owner, kind=Comparison.Kind.SWEEP, prompt=prompt, negative_prompt=negative_prompt,
        settings=settings, category=category, rerun_of=rerun_of,
    )  # fmt: skip
    for index, value in enumerate(values):
        override = {"quality": value} if setting == "quality" else {"options": {setting: value}}
        column = model_column(
            catalog.MODELS[model], prompt=prompt, negative=negative_prompt, aspect=aspect_ratio, tier="default",
            seed=seed, **override,
        )  # fmt: skip
        notes = (*column.notes, f"{setting} = {as_words(value)}")
        jobs.job_create(owner=owner, request=column.request, comparison=comparison, column=index, notes=notes)
    return comparison


def comparison_rerun(*, comparison: Comparison, owner: AbstractBaseUser, add_models: list[str] = ()) -> Comparison:
    """The same comparison again with a new seed, optionally with more models."""
    s = comparison.settings
    common = {"owner": owner, "prompt": comparison.prompt, "negative_prompt": comparison.negative_prompt,
              "aspect_ratio": s["aspect_ratio"], "seed": None, "category": comparison.category,
              "rerun_of": comparison}  # fmt: skip
    if comparison.kind == Comparison.Kind.SWEEP:
        return sweep_create(model=s["model"], setting=s["setting"], values=s["values"], **common)
    models = list(dict.fromkeys([*s["models"], *add_models]))[:MAX_COLUMNS]
    return comparison_create(quality=s["quality"], models=models, blind=comparison.blind, **common)


def is_finished(comparison: Comparison) -> bool:
    return not comparison.jobs.exclude(status__in=Job.FINAL).exists()


def revealed(comparison: Comparison, my_vote: Vote | None) -> bool:
    """Whether this person may see which model made which column: always for a labelled
    comparison, after their own vote for a blind one."""
    return not comparison.blind or my_vote is not None


def visible_to(viewer: AbstractBaseUser, job_field: str = "") -> Q:
    """Jobs (or, with job_field="job", images) that may show which model made them to `viewer`:
    any outside a blind comparison, and a blind comparison's once this viewer has voted on it.
    Until then the comparison page is the only place its columns show, lettered."""
    prefix = f"{job_field}__" if job_field else ""
    voted = Vote.objects.filter(comparison=OuterRef(f"{prefix}comparison"), user=viewer)
    return Q(**{f"{prefix}comparison__isnull": True}) | Q(**{f"{prefix}comparison__blind": False}) | Exists(voted)


def is_practice(model_id: str) -> bool:
    """The offline renderer is free, so anyone can make any number of its votes: they never
    count on the team's leaderboard (nor do models no longer in the catalog)."""
    model = catalog.get_model(model_id)
    return model is None or model.provider == "offline"


def leaderboard_query(comparison: Comparison) -> str:
    """Where this comparison's votes count: its kind of board, the practice one when every model
    is the free offline renderer (whose games never reach the team's board)."""
    model_ids = comparison.settings.get("models", [])
    practice = bool(model_ids) and all(is_practice(model_id) for model_id in model_ids)
    return urlencode(
        {"votes": "blind" if comparison.blind else "labelled", **({"models": "practice"} if practice else {})}
    )


def _games(vote: Vote, finished: dict[int, str], *, blind: bool) -> list[Game]:
    """The pairs a vote decides: the pick beats each other finished column; a ranking decides
    every pair; a tie (or "all bad") is half a win each way for every pair, stored as two rows."""
    models = list(finished.values())
    if vote.outcome == Vote.Outcome.BEST:
        pairs = [(vote.winner.model_id, other, False, True) for other in models if other != vote.winner.model_id]
    elif vote.outcome == Vote.Outcome.RANKING:
        order = [finished[column] for column in vote.ranking]
        pairs = [(a, b, False, i == 0) for i, a in enumerate(order) for b in order[i + 1 :]]
    else:
        pairs = [(a, b, True, False) for a in models for b in models if a != b]
    games, opened = [], set()
    for winner, loser, tie, top in pairs:
        game = Game(vote=vote, winner=winner, loser=loser, tie=tie, blind=blind, category=vote.comparison.category)
        game.practice = is_practice(winner) or is_practice(loser)
        game.top, game.opens_vote = top, not games
        game.opens_model = (top or tie) and winner not in opened
        games.append(game)
        opened.add(winner)
    return games


@transaction.atomic
def vote_cast(
    *, comparison: Comparison, user: AbstractBaseUser, outcome: str, pick: int | None = None,
    ranking: list[int] | None = None,
) -> Vote:  # fmt: skip
    """Record (or replace) this person's one vote on a finished comparison, with its games.
    Only a first vote on a blind comparison is blind: a changed vote was cast with the names shown."""
    if not is_finished(comparison):
        raise ComparisonNotFinished("Wait until every column has finished before you vote.")
    finished = dict(
        comparison.jobs.filter(status=Job.Status.SUCCEEDED).order_by("column").values_list("column", "model_id")
    )
    if outcome not in Vote.Outcome.values:
        raise ValueError("Vote best, tie, all bad, or rank the columns.")
    if outcome == Vote.Outcome.RANKING:
        ranking = list(ranking or ())
        if len(ranking) != len(finished) or set(ranking) != set(finished) or len(finished) < 2:
            raise ValueError("Rank every finished column, each once.")
        pick = ranking[0]
    else:
        ranking = []
    winner = None
    if outcome in (Vote.Outcome.BEST, Vote.Outcome.RANKING):
        if pick not in finished:
            raise ValueError("Pick one of this comparison's finished columns.")
        winner = comparison.jobs.get(column=pick)
    elif len(finished) < 2:
        raise ValueError("A tie needs at least two finished columns.")
    voted_before = Vote.objects.select_for_update().filter(comparison=comparison, user=user).exists()
    blind = comparison.blind and not voted_before
    vote, _ = Vote.objects.update_or_create(
        comparison=comparison,
        user=user,
        defaults={"outcome": outcome, "winner": winner, "ranking": ranking, "blind": blind},
    )
    vote.games.all().delete()
    if comparison.kind == Comparison.Kind.MODELS:
        Game.objects.bulk_create(_games(vote, finished, blind=blind))
    return vote
