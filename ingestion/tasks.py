"""django-q2 entry points of the ingestion domain."""

from django.conf import settings

from ingestion.services import EVENTS_BATCHER, events_idempotency_expire


def events_process_task() -> int:
    """The timeout side of the batcher: drain whatever is pending, however little."""
    return EVENTS_BATCHER.run()


def events_idempotency_expire_task() -> int:
    return events_idempotency_expire(days=settings.INGESTION_IDEMPOTENCY_RETENTION_DAYS)
