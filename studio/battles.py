"""Battles: one prompt, two enabled models drawn at random (pairs with few games first), run blind."""

from __future__ import annotations

import itertools
import random

from django.contrib.auth.models import AbstractBaseUser

from studio import catalog, comparisons, leaderboard
from studio.models import Comparison


class NoPair(Exception):
    pass


def candidates() -> list[catalog.Model]:
    """Enabled models that generate; the paid ones when two are set up, else offline practice."""
    enabled = [m for m in catalog.models_for(catalog.Operation.GENERATE) if catalog.availability(m).enabled]
    paid = [m for m in enabled if not comparisons.is_practice(m.id)]
    return paid if len(paid) >= 2 else enabled


def pick_pair(models: list[catalog.Model], games: dict[frozenset[str], float], rng: random.Random) -> list[str]:
    """Two model ids, each pair weighted 1 / (1 + games it has played), in random order."""
    pairs = list(itertools.combinations(sorted(m.id for m in models), 2))
    if not pairs:
        raise NoPair("A battle needs two models that can run here; set up a provider key (see Providers).")
    (pair,) = rng.choices(pairs, weights=[1 / (1 + games.get(frozenset(p), 0)) for p in pairs])
    return rng.sample(pair, 2)


def battle_create(
    *, owner: AbstractBaseUser, prompt: str, aspect_ratio: str, category: str = "", rng: random.Random | None = None
) -> Comparison:  # fmt: skip
    models = candidates()
    practice = all(comparisons.is_practice(m.id) for m in models)
    pair = pick_pair(models, leaderboard.pair_games(practice=practice), rng or random.Random())
    return comparisons.comparison_create(
        owner=owner, prompt=prompt, negative_prompt="", aspect_ratio=aspect_ratio, quality="default", seed=None,
        category=category, models=pair, blind=True,
    )  # fmt: skip


def recent_prompts(limit: int = 8) -> list[str]:
    """The team's latest distinct comparison prompts, to battle on again."""
    seen: dict[str, None] = {}
    for prompt in Comparison.objects.values_list("prompt", flat=True)[: limit * 5]:
        seen.setdefault(prompt.strip(), None)
    return list(seen)[:limit]
