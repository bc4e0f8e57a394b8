"""Fold pending revenue events into the per-user totals, by hand."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingestion.selectors import event_pending_count
from ingestion.services import events_process_batch, events_process_pending


class Command(BaseCommand):
    help = "Process pending revenue events: one batch, or everything pending with --all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", help="drain every pending event")
        parser.add_argument(
            "--claim",
            type=int,
            default=None,
            help=f"events per transaction (default INGESTION_PROCESS_CLAIM, "
            f"{settings.INGESTION_PROCESS_CLAIM})",
        )

    def handle(self, *args, **options) -> None:
        claim = options["claim"]
        if claim is not None and claim < 1:
            raise CommandError("--claim must be at least 1")
        if not options["all"]:
            processed = events_process_batch(limit=claim)
            if processed is None:
                self.stdout.write("nothing pending")
                return
            self.stdout.write(
                self.style.SUCCESS(
                    f"batch {processed.batch_id}: {processed.size} events of "
                    f"{processed.users} users; {event_pending_count()} still pending"
                )
            )
            return
        pending = event_pending_count()
        with tqdm(total=pending, unit="event", disable=not sys.stdout.isatty()) as bar:
            total = events_process_pending(limit=claim, on_batch=lambda b: bar.update(b.size))
        self.stdout.write(self.style.SUCCESS(f"processed {total} events"))
