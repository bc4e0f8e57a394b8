"""Fold pending analytics events into the rollups now (what the batcher's schedule does)."""

from django.core.management.base import BaseCommand

from analytics.selectors import event_pending_count
from analytics.services import events_process_pending


class Command(BaseCommand):
    help = "Fold the pending analytics events into the rollups (safe beside running workers)."

    def handle(self, *args, **options) -> None:
        processed = events_process_pending()
        self.stdout.write(f"processed {processed} events; {event_pending_count()} pending")
