"""Schedules of the streams domain (synced to django-q2 by core.schedules)."""

from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="streams.close_expired",
        func="streams.tasks.sessions_close_expired_task",
        every_seconds=60,
    ),
]
