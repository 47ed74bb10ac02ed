"""WSGI entry point for Atelier."""

import os

from django.core import checks
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Web servers (waitress, gunicorn) do not run Django's system checks as manage.py does: refuse to
# serve here, with the reason, when one fails (media storage not writable, ...).
if errors := [error for error in checks.run_checks() if error.is_serious() and not error.is_silenced()]:
    raise SystemExit("Atelier cannot start: " + " ".join(str(error.msg) for error in errors))
