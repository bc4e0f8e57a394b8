"""Load the development demo data (idempotent)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.demo import demo_load


class Command(BaseCommand):
    help = "Create the demo operator account and each domain's demo data (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo data is for development only (DJANGO_DEBUG is false)")
        demo_load(stdout=self.stdout)  # type: ignore[arg-type]  # OutputWrapper wraps a TextIO
