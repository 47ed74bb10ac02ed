"""The prompt history: each user's recent distinct prompts, newest first, searchable."""

import pytest
from django.urls import reverse

from studio import prompts
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_recent_prompts_are_distinct_newest_first_and_only_mine(user, other_user):
    for prompt in ("a red fox", "a lighthouse", "a red fox", "a harbour at night"):
        make_job(owner=user, prompt=prompt)
    make_job(owner=other_user, prompt="someone else's secret")
    assert prompts.recent(owner=user) == ["a harbour at night", "a red fox", "a lighthouse"]


def test_search_finds_prompts_containing_the_words(user):
    for prompt in ("A Red Fox in snow", "a lighthouse", "red sails"):
        make_job(owner=user, prompt=prompt)
    assert prompts.recent(owner=user, containing="red") == ["red sails", "A Red Fox in snow"]


def test_the_history_fragment_offers_prompts_to_put_back(alice, user):
    make_job(owner=user, prompt='a "quoted" <b>prompt</b>')
    html = alice.get(reverse("studio:prompt_history"), {"q": "quoted"}).content.decode()
    assert 'data-use-prompt="a &quot;quoted&quot; &lt;b&gt;prompt&lt;/b&gt;"' in html
    assert "No prompt of yours" in alice.get(reverse("studio:prompt_history"), {"q": "zzz\x00"}).content.decode()


def test_the_prompt_box_knows_the_last_prompt_for_the_up_arrow(alice, user):
    make_job(owner=user, prompt="older one")
    make_job(owner=user, prompt="the very last")
    html = alice.get(reverse("studio:home")).content.decode()
    assert 'data-last-prompt="the very last"' in html


def test_a_very_long_search_is_cut_not_refused(user):
    make_job(owner=user, prompt="a" * 300)
    assert prompts.recent(owner=user, containing="a" * 100_000) == ["a" * 300]
