"""The team's leaderboard: Bradley–Terry ratings with ties, 95% intervals and head-to-head win
rates, from the games votes decided (one GROUP BY over `Game`), cached until the next vote."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max

from studio import catalog
from studio.models import Comparison, Game, Vote

SCALE = 400 / math.log(10)  # natural-log strengths to the Elo-like scale (400 points = 10:1 odds)
Z95 = 1.959964


@dataclass(frozen=True)
class Pool:
    """Which games a board counts: blind or labelled votes, the paid models or offline practice."""

    blind: bool = True
    practice: bool = False
    category: str = ""


@dataclass(frozen=True)
class Standing:
    model_id: str
    label: str
    rating: float
    low: float
    high: float
    votes: int  # votes in which this model took part
    wins: int  # of those, votes that picked it as best
    ties: int  # of those, ties and "all bad"


@dataclass(frozen=True)
class Board:
    standings: list[Standing]
    # matrix[i][j]: how often standings[i]'s model beat standings[j]'s, in percent (a tie counts
    # half), and in how many games; None where they never met.
    matrix: list[list[tuple[int, int] | None]]
    votes: int

    @property
    def ranked(self) -> list[tuple[int, Standing]]:
        """Each standing with its place: models whose ratings show alike share one (1, 1, 3)."""
        places: list[tuple[int, Standing]] = []
        for position, standing in enumerate(self.standings, 1):
            tied = places and round(places[-1][1].rating) == round(standing.rating)
            places.append((places[-1][0] if tied else position, standing))
        return places


def fit(
    wins: np.ndarray, games: np.ndarray, *, prior_games: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Bradley–Terry by Newton's method: log-strengths and their standard errors.

    wins[i, j] is i's score against j (a win 1, a tie ½); games[i, j] the games they played. Each
    model also gets `prior_games` virtual games, half won, against a fixed average player at 0, so
    a model that never lost still has a finite rating. With prior_games=0 the ratings are centred
    on 0 instead (that needs every model connected by games)."""
    n = len(wins)
    theta = np.zeros(n)
    score = wins.sum(axis=1) + prior_games / 2
    for _ in range(100):
        p = 1 / (1 + np.exp(theta[None, :] - theta[:, None]))  # p[i, j] = P(i beats j)
        prior_p = 1 / (1 + np.exp(-theta))
        gradient = score - (games * p).sum(axis=1) - prior_games * prior_p
        information = games * p * p.T
        hessian = information - np.diag(information.sum(axis=1) + prior_games * prior_p * (1 - prior_p))
        step = np.linalg.pinv(hessian) @ gradient
        theta = theta - step
        if prior_games == 0:
            theta -= theta.mean()
        if np.abs(step).max() < 1e-10:
            break
    errors = np.sqrt(np.clip(np.diag(np.linalg.pinv(-hessian)), 0, None))
    return theta, errors


def _games(pool: Pool):
    # `__in`, not `=`: Django writes `flag=True` as a bare `WHERE flag`, which SQLite cannot
    # match to an index; `flag IN (1)` it can.
    games = Game.objects.filter(blind__in=[pool.blind], practice__in=[pool.practice])
    return games.filter(category__iexact=pool.category) if pool.category else games


def compute(pool: Pool) -> Board:
    """The board from the database, uncached: one aggregate query and a small Newton fit."""
    rows = (
        _games(pool)
        .values_list("winner", "loser", "tie", "opens_model", "opens_vote", "top")
        .annotate(n=Count("id"))
        .order_by()
    )
    votes: dict[str, int] = defaultdict(int)
    wins: dict[str, int] = defaultdict(int)
    ties: dict[str, int] = defaultdict(int)
    pairs: dict[tuple[str, str, bool], int] = defaultdict(int)
    total = 0
    for winner, loser, tie, opens_model, opens_vote, top, n in rows:
        pairs[winner, loser, tie] += n
        total += n if opens_vote else 0
        if opens_model:  # the pick, or one side of a tie: once per vote
            votes[winner] += n
            (ties if tie else wins)[winner] += n
        if top:  # every other model loses to the pick exactly once
            votes[loser] += n
    ids = sorted(votes)
    index = {m: i for i, m in enumerate(ids)}
    score, played = np.zeros((len(ids), len(ids))), np.zeros((len(ids), len(ids)))
    for (winner, loser, tie), n in pairs.items():
        i, j = index[winner], index[loser]
        share = n / 2 if tie else n
        score[i, j] += share
        played[i, j] += share
        played[j, i] += share
    theta, errors = fit(score, played) if ids else (np.zeros(0), np.zeros(0))
    order = sorted(range(len(ids)), key=lambda i: -theta[i])
    standings = [
        Standing(
            model_id=ids[i],
            label=model.label if (model := catalog.get_model(ids[i])) else ids[i],
            rating=float(1000 + SCALE * theta[i]),
            low=float(1000 + SCALE * (theta[i] - Z95 * errors[i])),
            high=float(1000 + SCALE * (theta[i] + Z95 * errors[i])),
            votes=votes[ids[i]],
            wins=wins[ids[i]],
            ties=ties[ids[i]],
        )
        for i in order
    ]
    matrix = [
        [(round(100 * score[i, j] / played[i, j]), round(played[i, j])) if played[i, j] else None for j in order]
        for i in order
    ]
    return Board(standings, matrix, total)


def _version() -> str:
    """Changes whenever a vote is cast, changed or deleted (in any process): the cache key's part."""
    state = Vote.objects.aggregate(n=Count("id"), last=Max("created_at"), top=Max("id"))
    return f"{state['n']}-{state['top']}-{state['last'].timestamp() if state['last'] else 0}"


def board(pool: Pool) -> Board:
    key = f"leaderboard:{pool.blind}:{pool.practice}:{pool.category.lower()}:{_version()}"
    cached = cache.get(key)
    if cached is None:
        cached = compute(pool)
        cache.set(key, cached, timeout=24 * 3600)
    return cached


def categories() -> list[str]:
    """The comparisons' categories (read from Comparison's index, not by scanning every game)."""
    rows = Comparison.objects.exclude(category="").values_list("category", flat=True).distinct().order_by("category")
    return list(rows[:50])


def pair_games(*, practice: bool) -> dict[frozenset[str], float]:
    """Games each pair of models has played (blind or not), for a battle to prefer new pairs."""
    counts: dict[frozenset[str], float] = defaultdict(float)
    rows = Game.objects.filter(practice=practice).values_list("winner", "loser", "tie").annotate(n=Count("id"))
    for winner, loser, tie, n in rows.order_by():
        counts[frozenset((winner, loser))] += n / 2 if tie else n  # a tie is two half rows
    return counts
