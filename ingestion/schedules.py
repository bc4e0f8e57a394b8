"""Schedules of the ingestion domain (synced to django-q2 by core.schedules)."""

from django.conf import settings

from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="ingestion.process_events",
        func="ingestion.tasks.events_process_task",
        every_seconds=settings.INGESTION_BATCH_TIMEOUT,
    ),
    ScheduleSpec(
        name="ingestion.expire_idempotency_keys",
        func="ingestion.tasks.events_idempotency_expire_task",
        every_seconds=3600,
    ),
]
