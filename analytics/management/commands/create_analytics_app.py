"""Register an app for an owner and print its API key (shown this once only)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator

from analytics.services import app_register


class Command(BaseCommand):
    help = "Register an app for an existing owner account and print its API key once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--owner", required=True, help="username of the owner")
        parser.add_argument(
            "--name", required=True, help="the app's display name (1 to 255 characters)"
        )
        parser.add_argument("--domain", required=True, help="e.g. https://example.com")

    def handle(self, *args, **options) -> None:
        owner = get_user_model().objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"no such user: {options['owner']}")
        name = options["name"].strip()
        if not name or len(name) > 255:
            raise CommandError("--name must be 1 to 255 characters")
        try:
            URLValidator(schemes=["http", "https"])(options["domain"])
        except ValidationError:
            raise CommandError(f"--domain is not a valid URL: {options['domain']}") from None
        app, issued = app_register(owner=owner, name=name, domain=options["domain"])
        self.stdout.write(f"appId: {app.pk}")
        self.stdout.write(f"apiKey: {issued.raw}")
        self.stderr.write("The key is shown only now; store it.")
