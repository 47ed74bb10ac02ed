"""The Providers page: configuration by variable name (never value) and a live check of each."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_unconfigured_providers_say_which_variable_to_set(alice):
    html = alice.get(reverse("studio:providers")).content.decode()
    assert "Set OPENAI_API_KEY" in html and "Set STABILITY_API_KEY" in html
    assert "Set REPLICATE_API_TOKEN" in html and "Set MIDJOURNEY_PROXY_URL" in html


def test_every_provider_checks_ok_against_its_emulator(
    alice, openai_emulator, stability_emulator, replicate_emulator, midjourney_proxy
):
    html = alice.get(reverse("studio:providers")).content.decode()
    assert "Set " not in html and html.count('hx-trigger="load"') == 5
    for provider_id, text in [
        ("offline", "Built in"),
        ("openai", "models listed"),
        ("stability", "42.5 credits"),
        ("replicate", "signed in as atelier-emulator"),
        ("midjourney", "the secret works"),
    ]:
        body = alice.get(reverse("studio:provider_check", args=[provider_id])).content.decode()
        assert "✓" in body and text in body, (provider_id, body)
    for secret in (
        openai_emulator.api_key,
        stability_emulator.api_key,
        replicate_emulator.token,
        midjourney_proxy.secret,
    ):
        assert secret not in html


def test_a_wrong_key_shows_as_a_failed_check(alice, openai_emulator, settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "openai": {"api_key": "sk-wrong", "base_url": f"{openai_emulator.url}/v1"},
    }
    body = alice.get(reverse("studio:provider_check", args=["openai"])).content.decode()
    assert "✗" in body and "refused the API key" in body


def test_an_unreachable_provider_shows_as_a_failed_check(alice, settings):
    settings.PROVIDER_SETTINGS = {
        **settings.PROVIDER_SETTINGS,
        "stability": {"api_key": "k", "base_url": "http://127.0.0.1:9"},
    }
    body = alice.get(reverse("studio:provider_check", args=["stability"])).content.decode()
    assert "✗" in body and "Could not reach Stability" in body
