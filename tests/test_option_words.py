"""Model options read as words wherever they are shown: on, off, not set."""

import pytest

from studio.templatetags.options import as_words
from tests.factories import make_image, make_job


@pytest.mark.parametrize(
    ("value", "words"),
    [(True, "on"), (False, "off"), (None, "not set"), ("", "not set"), (0, "0"), (3.5, "3.5"), ("vivid", "vivid")],
)
def test_option_values_read_as_words(value, words):
    assert as_words(value) == words


def test_the_detail_page_and_the_gallery_tiles_show_options_as_words(alice, user):
    options = {"moderation": False, "enhance": True, "background": None}
    job = make_job(owner=user, status="succeeded", params={**make_job(owner=user).params, "options": options})
    image = make_image(job)
    detail = alice.get(f"/gallery/{image.pk}/").content.decode()
    assert "<dt>moderation</dt><dd>off</dd>" in detail and "<dt>enhance</dt><dd>on</dd>" in detail
    assert "<dt>background</dt><dd>not set</dd>" in detail
    assert "False" not in detail and "True" not in detail and "None" not in detail
    grid = alice.get("/gallery/").content.decode()
    assert 'data-options="moderation: off · enhance: on · background: not set"' in grid


def test_a_sweep_over_an_on_off_option_names_its_columns_in_words(user, django_capture_on_commit_callbacks):
    from studio import comparisons

    with django_capture_on_commit_callbacks():  # queued, not run
        comparison = comparisons.sweep_create(
            owner=user, prompt="a kite", negative_prompt="", aspect_ratio="1:1", seed=1, category="",
            model="flux-schnell", setting="go_fast", values=[True, False],
        )  # fmt: skip
    assert [job.params["notes"][-1] for job in comparison.jobs.order_by("column")] == ["go_fast = on", "go_fast = off"]
