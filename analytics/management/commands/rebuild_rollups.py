"""Recompute the analytics rollups from the event log: report differences, or repair them."""

from django.core.management.base import BaseCommand, CommandError

from analytics.selectors import rollup_differences
from analytics.services import rollups_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the rollups from the processed events of the log. --verify only reports "
        "differences (exit 1 if any); without it the rollups are rebuilt where they differ."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--verify", action="store_true", help="report only, change nothing")

    def handle(self, *args, **options) -> None:
        differences = rollup_differences() if options["verify"] else rollups_rebuild()
        for d in differences:
            self.stdout.write(f"{d.table}: {d.detail}")
        if options["verify"]:
            if differences:
                raise CommandError(f"{len(differences)} rollup rows differ from the event log")
            self.stdout.write(self.style.SUCCESS("every rollup matches the event log"))
        elif differences:
            self.stdout.write(self.style.SUCCESS(f"rebuilt ({len(differences)} rows differed)"))
        else:
            self.stdout.write(self.style.SUCCESS("nothing to repair"))
