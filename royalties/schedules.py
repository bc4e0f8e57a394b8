"""Schedules of the royalties domain (synced to django-q2 by core.schedules)."""

from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="royalties.sweep_runs",
        func="royalties.tasks.runs_sweep_task",
        every_seconds=300,
    ),
]
