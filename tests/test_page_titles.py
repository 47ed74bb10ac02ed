"""Page titles are plain text: markup in a title block renders as literal text in the browser tab."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import make_image

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TITLE_BLOCK = re.compile(r"{% block title %}(.*?){% endblock %}", re.DOTALL)


@pytest.mark.django_db
def test_image_detail_title_is_the_image_number(alice, user):
    image = make_image()
    html = alice.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert re.search(r"<title>(.*?)</title>", html, re.DOTALL).group(1) == f"Image {image.pk} · Atelier"


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_title_block_holds_markup(template):
    for title in TITLE_BLOCK.findall(template.read_text()):
        assert "<" not in title, f"{template.name}: the title block holds markup: {title!r}"
