"""WSGI entry point for Atelier."""

import os
import re
import sys

from django.core import checks
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _waitress_states_the_limit() -> None:
    """Under waitress (runstudio, waitress-serve), a body of --max-request-body-size bytes or more
    is refused before Django sees the request, with "exceeds max_body of 62914561": one more than
    the largest body it takes, in bytes. Its 413 says the limit instead, as Django's does."""
    parser = sys.modules.get("waitress.parser")
    if parser is None or getattr(parser.RequestEntityTooLarge, "states_the_limit", False):
        return
    from config.middleware import too_large_message

    class RequestEntityTooLarge(parser.RequestEntityTooLarge):
        states_the_limit = True

        def __init__(self, body: str) -> None:
            if match := re.fullmatch(r"exceeds max_body of (\d+)", body):
                body = too_large_message(int(match[1]) - 1)  # waitress refuses that many bytes or more
            super().__init__(body)

    parser.RequestEntityTooLarge = RequestEntityTooLarge


_waitress_states_the_limit()

# Web servers (waitress, gunicorn) do not run Django's system checks as manage.py does: refuse to
# serve here, with the reason, when one fails (media storage not writable, ...).
if errors := [error for error in checks.run_checks() if error.is_serious() and not error.is_silenced()]:
    raise SystemExit("Atelier cannot start: " + " ".join(str(error.msg) for error in errors))
