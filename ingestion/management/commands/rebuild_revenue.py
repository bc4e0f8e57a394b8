"""Recompute users' revenue from the event log: report differences, or repair them."""

from django.core.management.base import BaseCommand, CommandError

from ingestion.selectors import revenue_differences
from ingestion.services import revenue_rebuild


class Command(BaseCommand):
    help = (
        "Recompute each user's revenue from the processed events in the log. --verify only "
        "reports differences (exit 1 if any); without it the stored totals are repaired."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--verify", action="store_true", help="report only, change nothing")
        parser.add_argument("--user", action="append", dest="users", help="limit to this user id")

    def handle(self, *args, **options) -> None:
        users = options["users"]
        if options["verify"]:
            differences = revenue_differences(user_ids=users)
        else:
            differences = revenue_rebuild(user_ids=users)
        for d in differences:
            self.stdout.write(f"{d.user_id}: stored {d.stored}, from the log {d.from_log}")
        if options["verify"]:
            if differences:
                raise CommandError(f"{len(differences)} users differ from the event log")
            self.stdout.write(self.style.SUCCESS("every total matches the event log"))
        else:
            self.stdout.write(self.style.SUCCESS(f"repaired {len(differences)} users"))
