"""The settings the test suite runs with: the project's own, never the developer's `.env`."""

import os

# Set before the project settings are read; the worker and server processes tests start inherit it.
os.environ["ATELIER_ENV_FILE"] = ""

from config.settings import *  # noqa: F403
