"""The leaderboard: Bradley–Terry with ties against a hand-computed example, games counted from
votes (one game per pair a vote decides), and the boards kept apart: blind, labelled, practice."""

import math

import numpy as np
import pytest
from django.urls import reverse

from studio import comparisons, leaderboard
from studio.leaderboard import Pool
from studio.models import Comparison, Game, Job

pytestmark = pytest.mark.django_db
PAID3 = ["dall-e-3", "gpt-image-1.5", "sdxl-1.0"]


def test_bradley_terry_with_ties_matches_a_hand_computed_example():
    """Strengths 4 : 2 : 1 for a, b, c fit these games exactly, ties counted half a win:
    a–b 3 games, a scores 2 (1 win, 2 ties)   expected 3 × 4/6 = 2
    b–c 3 games, b scores 2 (2 wins, 1 loss)  expected 3 × 2/3 = 2
    a–c 5 games, a scores 4 (3 wins, 2 ties)  expected 5 × 4/5 = 4
    so the maximum-likelihood log-strengths, centred, are (ln 2, 0, −ln 2): ratings 1000 ± 400·log10 2."""
    score = np.array([[0, 2, 4], [1, 0, 2], [1, 1, 0]], dtype=float)
    games = np.array([[0, 3, 5], [3, 0, 3], [5, 3, 0]], dtype=float)
    theta, errors = leaderboard.fit(score, games, prior_games=0)
    ratings = 1000 + leaderboard.SCALE * theta
    assert ratings == pytest.approx([1000 + 400 * math.log10(2), 1000, 1000 - 400 * math.log10(2)], abs=1e-6)
    assert ratings[0] - 1000 == pytest.approx(120.41, abs=0.01)
    # Standard errors from the information matrix L (each pair adds n·p·(1−p) to a graph
    # Laplacian): with the ratings centred, the covariance is L⁺ = (L + J/3)⁻¹ − J/3 (J all ones).
    w_ab, w_bc, w_ac = 3 * (4 / 6) * (2 / 6), 3 * (2 / 3) * (1 / 3), 5 * (4 / 5) * (1 / 5)
    laplacian = np.array(
        [[w_ab + w_ac, -w_ab, -w_ac], [-w_ab, w_ab + w_bc, -w_bc], [-w_ac, -w_bc, w_ac + w_bc]]
    )  # fmt: skip
    ones = np.ones((3, 3))
    covariance = np.linalg.inv(laplacian + ones / 3) - ones / 3
    assert errors == pytest.approx(np.sqrt(np.diag(covariance)), rel=1e-6)


def test_the_prior_keeps_an_unbeaten_model_finite():
    theta, errors = leaderboard.fit(np.array([[0, 5.0], [0, 0]]), np.array([[0, 5.0], [5.0, 0]]))
    assert 0 < theta[0] < 5 and -5 < theta[1] < 0 and all(np.isfinite(errors))


def _finished(owner, models, *, category="", blind=True, kind="models"):
    comparison = Comparison.objects.create(
        owner=owner, prompt="p", category=category, blind=blind, kind=kind, settings={"models": models}
    )
    for column, model_id in enumerate(models):
        Job.objects.create(
            owner=owner, model_id=model_id, prompt="p", status="succeeded", comparison=comparison, column=column
        )
    return comparison


def test_a_pick_among_three_is_two_games_and_a_tie_is_half_a_win_each_way(user, other_user):
    comparison = _finished(user, PAID3)
    comparisons.vote_cast(comparison=comparison, user=user, outcome="best", pick=0)  # dall-e-3 best
    comparisons.vote_cast(comparison=comparison, user=other_user, outcome="tie")
    board = leaderboard.compute(Pool())
    by_id = {s.model_id: s for s in board.standings}
    assert board.votes == 2
    assert [(by_id[m].votes, by_id[m].wins, by_id[m].ties) for m in PAID3] == [(2, 1, 1), (2, 0, 1), (2, 0, 1)]
    assert board.standings[0].model_id == "dall-e-3"
    assert board.standings[0].low < board.standings[0].rating < board.standings[0].high
    first = [s.model_id for s in board.standings].index("dall-e-3")
    second = [s.model_id for s in board.standings].index("gpt-image-1.5")
    # dall-e-3 v gpt-image-1.5: one win and one tie = 1.5 of 2 games; the two losers only tied.
    assert board.matrix[first][second] == (75, 2) and board.matrix[second][first] == (25, 2)
    assert board.matrix[first][first] is None


def test_one_vote_per_person_per_comparison_and_a_changed_vote_replaces_its_games(user):
    comparison = _finished(user, PAID3[:2])
    for pick in (0, 1, 1):
        comparisons.vote_cast(comparison=comparison, user=user, outcome="best", pick=pick)
    games = list(Game.objects.values_list("winner", "loser", "blind"))
    # Changed after the names were shown, so the vote is no longer blind.
    assert games == [("gpt-image-1.5", "dall-e-3", False)]


def test_boards_keep_blind_labelled_practice_and_categories_apart(user):
    comparisons.vote_cast(comparison=_finished(user, PAID3, category="Animals"), user=user, outcome="best", pick=2)
    comparisons.vote_cast(comparison=_finished(user, PAID3[:2], blind=False), user=user, outcome="best", pick=1)
    offline = _finished(user, ["offline", "offline-mosaic", "dall-e-3"])
    comparisons.vote_cast(comparison=offline, user=user, outcome="best", pick=1)
    sweep = _finished(user, ["offline", "offline"], kind="sweep")
    comparisons.vote_cast(comparison=sweep, user=user, outcome="best", pick=0)

    def ranked(pool):
        return [(s.model_id, s.votes) for s in leaderboard.compute(pool).standings]

    assert ranked(Pool())[0] == ("sdxl-1.0", 1)
    assert {m for m, _ in ranked(Pool())} == set(PAID3)  # the offline games are not here
    assert ranked(Pool(blind=False)) == [("gpt-image-1.5", 1), ("dall-e-3", 1)]
    assert ranked(Pool(practice=True))[0] == ("offline-mosaic", 1)
    assert {m for m, _ in ranked(Pool(practice=True))} == {"offline-mosaic", "offline", "dall-e-3"}
    assert ranked(Pool(category="animals"))[0] == ("sdxl-1.0", 1)
    assert ranked(Pool(category="portraits")) == []


def test_the_cached_board_changes_with_the_next_vote(alice, user, other_user):
    comparison = _finished(user, PAID3[:2])
    comparisons.vote_cast(comparison=comparison, user=user, outcome="best", pick=0)
    assert leaderboard.board(Pool()).standings[0].model_id == "dall-e-3"
    assert leaderboard.board(Pool()) == leaderboard.board(Pool())  # served from the cache
    for who in (other_user, user):
        comparisons.vote_cast(comparison=comparison, user=who, outcome="best", pick=1)
    assert leaderboard.board(Pool()).standings[0].model_id == "gpt-image-1.5"
    html = alice.get(reverse("studio:leaderboard")).content.decode()
    assert "Head to head" in html and "GPT Image 1.5" in html and "from 1 blind vote." in html


def test_the_page_makes_five_queries_after_a_vote_and_four_from_the_cache(alice, user, django_assert_num_queries):
    for models in (PAID3, PAID3[:2], PAID3[1:]):
        comparisons.vote_cast(comparison=_finished(user, models, category="x"), user=user, outcome="tie")
    url = reverse("studio:leaderboard")
    with django_assert_num_queries(5):  # session, user, the votes' version, categories, the games
        alice.get(url)
    with django_assert_num_queries(4):
        alice.get(url)


def test_a_ranking_decides_every_pair_and_counts_once_per_model(user):
    comparison = _finished(user, PAID3)
    comparisons.vote_cast(comparison=comparison, user=user, outcome="ranking", ranking=[2, 0, 1])
    games = set(Game.objects.values_list("winner", "loser", "top"))
    assert games == {
        ("sdxl-1.0", "dall-e-3", True),
        ("sdxl-1.0", "gpt-image-1.5", True),
        ("dall-e-3", "gpt-image-1.5", False),
    }
    board = leaderboard.compute(Pool())
    assert [(s.model_id, s.votes, s.wins) for s in board.standings] == [
        ("sdxl-1.0", 1, 1), ("dall-e-3", 1, 0), ("gpt-image-1.5", 1, 0)
    ]  # fmt: skip
    assert board.votes == 1
    for bad in ([2, 0], [2, 0, 0], [2, 0, 1, 3], [None, 0, 1]):
        with pytest.raises(ValueError, match="Rank every finished column"):
            comparisons.vote_cast(comparison=comparison, user=user, outcome="ranking", ranking=bad)


def test_models_rated_alike_share_their_place():
    def standing(model_id, rating):
        return leaderboard.Standing(model_id, model_id, rating, rating - 50, rating + 50, 2, 1, 0)

    ratings = {"a": 1040.2, "b": 1000.4, "c": 999.6, "d": 960}  # b and c both show as 1000
    board = leaderboard.Board([standing(m, r) for m, r in ratings.items()], [], 4)
    assert [place for place, _ in board.ranked] == [1, 2, 2, 4]
