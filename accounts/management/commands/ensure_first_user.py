"""Create a first user when the instance has none, and print how to log in."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an 'admin' user with a random password if no user exists yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        if User.objects.exists():
            self.stdout.write("Users exist; log in with your account (manage.py createsuperuser adds more).")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, password=password, email="")
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the first user.\n  username: {username}\n  password: {password}\n"
                f"Change it with: .venv/bin/python manage.py changepassword {username}"
            )
        )
