"""In headless Chromium: the spend-per-day chart's labels stay readable and apart on a desktop and
on a phone, and the page does not scroll sideways."""

from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.utils import timezone
from playwright.sync_api import Browser

from tests.conftest import log_in
from tests.factories import make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def spender(live_server):
    user = make_user(username="ines")
    today = timezone.localdate()
    for days_ago in range(today.day):
        when = timezone.now() - timedelta(days=days_ago)
        make_job(owner=user, status="succeeded", cost=Decimal("0.0123") * (days_ago % 5), finished_at=when)
    return user


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}])
def test_the_charts_labels_are_readable_and_apart(browser: Browser, live_server, spender, viewport):
    page = browser.new_context(viewport=viewport).new_page()
    log_in(page, live_server, "ines", "/costs/")
    labels = page.locator(".spend-chart text")
    boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    assert len(boxes) >= 2  # the scale and at least one date
    assert min(box["height"] for box in boxes) >= 12, "labels under 12 px high"
    dates = sorted(boxes[1:], key=lambda box: box["x"])
    assert all(a["x"] + a["width"] < b["x"] for a, b in pairwise(dates)), "dates overlap"
    chart = page.locator(".spend-chart svg").bounding_box()
    assert all(chart["x"] <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"] + 1 for box in boxes)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
