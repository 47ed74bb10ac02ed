"""Comparisons: one prompt fanned out to several models (or one model over a setting's values),
the team's votes, and a Bradley–Terry leaderboard of models built from them."""

from __future__ import annotations

import math
import random
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from studio import catalog, jobs, specs
from studio.models import Comparison, Job, Vote
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
    if not model.seed:
        notes.append("Takes no seed; results vary run to run.")
    request = specs.build(
        model=model,
        prompt=prompt,
        negative_prompt=negative if model.negative_prompt else "",
        size=size,
        quality=overrides.get("quality") or quality_for(model, tier),
        seed=min(seed, model.seed_max or catalog.SEED_MAX),
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


def _seed(seed: int | None) -> int:
    return seed if seed is not None else secrets.randbelow(catalog.SEED_MAX + 1)


@transaction.atomic
def comparison_create(
    *, owner: AbstractBaseUser, prompt: str, negative_prompt: str, aspect_ratio: str, quality: str,
    seed: int | None, category: str, models: list[str], rerun_of: Comparison | None = None,
) -> Comparison:  # fmt: skip
    seed = _seed(seed)
    comparison = Comparison.objects.create(
        owner=owner,
        prompt=prompt,
        negative_prompt=negative_prompt,
        settings={"aspect_ratio": aspect_ratio, "quality": quality, "seed": seed, "models": models},
        category=category,
        rerun_of=rerun_of,
    )
    for index, model_id in enumerate(models):
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
    seed = _seed(seed)
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
    return comparison_create(quality=s["quality"], models=models, **common)


def is_finished(comparison: Comparison) -> bool:
    return not comparison.jobs.exclude(status__in=Job.FINAL).exists()


def vote_cast(*, comparison: Comparison, user: AbstractBaseUser, winner: Job) -> Vote:
    if not is_finished(comparison):
        raise ComparisonNotFinished("Wait until every column has finished before you vote.")
    if winner.comparison_id != comparison.pk or winner.status != Job.Status.SUCCEEDED:
        raise ValueError("Vote for one of this comparison's finished columns.")
    vote, _ = Vote.objects.update_or_create(comparison=comparison, user=user, defaults={"winner": winner})
    return vote


# --- Leaderboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    model: catalog.Model | None
    model_id: str
    rating: float
    low: float
    high: float
    wins: int
    games: int


def bradley_terry(pairs: list[tuple[str, str]], iterations: int = 200) -> dict[str, float]:
    """Ratings on an Elo-like scale (1000 = average) from (winner, loser) pairs.

    Hunter's MM algorithm, with every model given one virtual game, half won, against an average
    opponent, so a model that always wins or always loses still gets a finite rating."""
    players = {p for pair in pairs for p in pair}
    wins = Counter(winner for winner, _ in pairs)
    games: dict[str, Counter[str]] = defaultdict(Counter)
    for winner, loser in pairs:
        games[winner][loser] += 1
        games[loser][winner] += 1
    strength = dict.fromkeys(players, 1.0)
    for _ in range(iterations):
        updated = {}
        for p in players:
            denominator = sum(n / (strength[p] + strength[q]) for q, n in games[p].items()) + 1 / (strength[p] + 1)
            updated[p] = (wins[p] + 0.5) / denominator
        mean = math.exp(sum(math.log(v) for v in updated.values()) / len(updated)) if updated else 1
        strength = {p: v / mean for p, v in updated.items()}
    return {p: 1000 + 400 * math.log10(v) for p, v in strength.items()}


def vote_pairs(*, category: str = "") -> list[list[tuple[str, str]]]:
    """For each vote on a model comparison, the (winner, loser) model pairs it implies."""
    votes = Vote.objects.filter(comparison__kind=Comparison.Kind.MODELS).select_related("winner")
    if category:
        votes = votes.filter(comparison__category__iexact=category)
    columns: dict[int, list[str]] = defaultdict(list)
    for comparison_id, model_id in Job.objects.filter(
        comparison__in=votes.values("comparison"), status=Job.Status.SUCCEEDED
    ).values_list("comparison_id", "model_id"):
        columns[comparison_id].append(model_id)
    return [
        [(vote.winner.model_id, other) for other in columns[vote.comparison_id] if other != vote.winner.model_id]
        for vote in votes
    ]


def leaderboard(*, category: str = "", resamples: int = 200, seed: int = 7) -> list[Standing]:
    """Models ranked by Bradley–Terry rating, with a 95% bootstrap interval over the votes."""
    per_vote = [pairs for pairs in vote_pairs(category=category) if pairs]
    all_pairs = [pair for pairs in per_vote for pair in pairs]
    if not all_pairs:
        return []
    ratings = bradley_terry(all_pairs)
    rng = random.Random(seed)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(resamples):
        drawn = [pair for pairs in rng.choices(per_vote, k=len(per_vote)) for pair in pairs]
        resampled = bradley_terry(drawn, iterations=60)
        for model_id in ratings:
            samples[model_id].append(resampled.get(model_id, 1000.0))
    wins = Counter(w for w, _ in all_pairs)
    games = Counter(p for pair in all_pairs for p in pair)
    standings = []
    for model_id, rating in ratings.items():
        ordered = sorted(samples[model_id])
        low, high = ordered[int(0.025 * (len(ordered) - 1))], ordered[int(0.975 * (len(ordered) - 1))]
        standings.append(
            Standing(catalog.get_model(model_id), model_id, rating, low, high, wins[model_id], games[model_id])
        )
    return sorted(standings, key=lambda s: -s.rating)
