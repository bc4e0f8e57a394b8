"""Sync the schedules declared in code (each app's schedules.py) to django-q2."""

from typing import Any

from django.core.management.base import BaseCommand

from core.schedules import schedules_declared, schedules_sync


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules declared in code; remove undeclared ones."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = schedules_sync()
        for spec in schedules_declared():
            self.stdout.write(f"  {spec.name}: {spec.func} every {spec.minutes} min")
        self.stdout.write(
            self.style.SUCCESS(
                "schedules synced: {created} created, {updated} updated, {deleted} removed".format(
                    **counts
                )
            )
        )
