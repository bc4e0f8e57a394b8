"""Schedules of the webhooks domain (synced by core.schedules.schedules_sync)."""

from core.schedules import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(name="webhooks.sweep", func="webhooks.tasks.work_sweep_task", every_seconds=60),
]
