"""Account forms: a new API token, and the log-in form that explains a lock-out."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import lockouts
from accounts.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        error_messages={"required": "Give the token a name, such as the script that will use it."},
    )
    scope = forms.ChoiceField(
        label="Access",
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ_WRITE,
        error_messages={"required": "Choose what the token may do: read only, or read and write."},
    )


class LoginForm(AuthenticationForm):
    """Django's log-in form; when django-axes refuses the attempt, it says so and until when."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "axes_locked_out", False):
                username = self.cleaned_data.get("username") or ""
                ip_address = getattr(self.request, "axes_ip_address", None)
                raise ValidationError(
                    lockouts.message(username=username, ip_address=ip_address), code="locked_out"
                ) from None
            raise
