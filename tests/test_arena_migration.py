"""Votes cast before blind mode become labelled games when the leaderboard moves to stored games."""

import pytest

from tests.migrating import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("studio", "0009_preview_and_recent_runs"), ("studio", "0010_arena")


def test_old_picks_become_labelled_games_and_offline_ones_practice():
    apps = migrate(BEFORE)
    User, Comparison, Job, Vote = (
        apps.get_model(*name.split(".")) for name in ("auth.User", "studio.Comparison", "studio.Job", "studio.Vote")
    )
    owner = User.objects.create(username="owner")
    comparison = Comparison.objects.create(owner=owner, prompt="p", category="Animals", settings={})
    jobs = [
        Job.objects.create(owner=owner, operation="generate", model_id=m, prompt="p", params={}, status="succeeded",
                           comparison=comparison, column=i)
        for i, m in enumerate(["dall-e-3", "sdxl-1.0", "offline"])
    ]  # fmt: skip
    Vote.objects.create(comparison=comparison, user=owner, winner=jobs[1])

    apps = migrate(AFTER)
    games = apps.get_model("studio", "Game").objects.order_by("loser")
    assert list(games.values_list("winner", "loser", "tie", "blind", "practice", "category")) == [
        ("sdxl-1.0", "dall-e-3", False, False, False, "Animals"),
        ("sdxl-1.0", "offline", False, False, True, "Animals"),
    ]
    assert sorted(games.values_list("opens_vote", flat=True)) == [False, True]
    assert apps.get_model("studio", "Vote").objects.get().outcome == "best"


@pytest.fixture(autouse=True)
def latest_schema_afterwards():
    yield
    migrate_to_latest()
