"""Schedules of the analytics domain (synced to django-q2 by core.schedules)."""

from django.conf import settings

from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="analytics.process_events",
        func="analytics.tasks.events_process_task",
        every_seconds=settings.ANALYTICS_BATCH_TIMEOUT,
    ),
]
