"""Deliver failed callbacks again, chosen by filter (the admin's "retry all matching")."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from core.admin import counted
from webhooks.selectors import deliveries_failed
from webhooks.services import RETRY_CHUNK, deliveries_retry


class Command(BaseCommand):
    help = (
        "Queue failed deliveries again (same webhook-id and body, a new delivery window). "
        "Without a filter, every failed delivery."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--provider", help="only requests that asked for this provider")
        parser.add_argument("--host", help="only callbacks to this host (exact, e.g. api.example)")
        parser.add_argument(
            "--since", help="only deliveries created at or after this ISO 8601 time (UTC)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print how many match; change nothing"
        )

    def handle(self, *args, **options) -> None:
        since = None
        if options["since"]:
            since = parse_datetime(options["since"])
            if since is None:
                raise CommandError(f"--since: not an ISO 8601 time: {options['since']!r}")
        matching = deliveries_failed(
            provider=options["provider"], host=options["host"], since=since
        )
        if options["dry_run"]:
            count = matching.count()
            self.stdout.write(
                f"{counted(count, 'failed delivery', 'failed deliveries')} match (dry run)"
            )
            return
        retried = deliveries_retry(deliveries=matching, progress=self._progress)
        done = counted(retried, "failed delivery", "failed deliveries")
        self.stdout.write(f"{done} queued again")

    def _progress(self, retried: int, matching: int) -> None:
        if matching > RETRY_CHUNK:  # one line per chunk, only when there is more than one
            self.stdout.write(f"  {retried:,} of {matching:,} queued again")
