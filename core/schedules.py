"""Schedules declared in code, one ``schedules.py`` per app, synced idempotently to django-q2.

Each app lists ``SCHEDULES = [ScheduleSpec(...)]`` in its ``schedules`` module, found among the
installed apps as Django finds ``admin`` modules (``autodiscover_modules``). ``schedules_sync``
creates or updates one ``django_q.Schedule`` row per name (``"<app>.<purpose>"``) and deletes
rows of ours (named after an app that declares schedules) that are no longer declared, so a
restart, a second migrate or a renamed schedule never leaves duplicates.
"""

import math
import sys
from dataclasses import dataclass
from types import ModuleType

from django.apps import apps
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    every_seconds: int

    @property
    def minutes(self) -> int:
        # django-q2's finest interval is one minute.
        return max(1, math.ceil(self.every_seconds / 60))


def app_modules(name: str) -> dict[str, ModuleType]:
    """The ``<app>.<name>`` module of every installed app that has one, by app label, in
    ``INSTALLED_APPS`` order (imported by Django's ``autodiscover_modules``)."""
    autodiscover_modules(name)
    found = {}
    for config in apps.get_app_configs():
        module = sys.modules.get(f"{config.name}.{name}")
        if module is not None:
            found[config.label] = module
    return found


def schedules_declared() -> list[ScheduleSpec]:
    declared: list[ScheduleSpec] = []
    for module in app_modules("schedules").values():
        declared.extend(getattr(module, "SCHEDULES", []))
    names = [spec.name for spec in declared]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"schedule names declared twice: {', '.join(duplicates)}")
    return declared


def schedules_sync(*, using: str = "default") -> dict[str, int]:
    """Make the django-q2 schedule table match the declarations. Returns counts by outcome."""
    from django_q.models import Schedule

    declared = schedules_declared()
    counts = {"created": 0, "updated": 0, "deleted": 0}
    prefixes = tuple(f"{label}." for label in app_modules("schedules"))
    with transaction.atomic(using=using):
        for spec in declared:
            wanted = {
                "func": spec.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": spec.minutes,
                "repeats": -1,
            }
            _, created = Schedule.objects.using(using).update_or_create(
                name=spec.name,
                defaults=wanted,
                create_defaults={**wanted, "next_run": timezone.now()},
            )
            counts["created" if created else "updated"] += 1
        stale = Schedule.objects.using(using).exclude(name__in=[s.name for s in declared])
        for schedule in stale:
            if schedule.name and schedule.name.startswith(prefixes):
                schedule.delete()
                counts["deleted"] += 1
    return counts


# The platform's own housekeeping (each domain declares its schedules in its schedules.py).
SCHEDULES = [
    ScheduleSpec(
        name="core.clear_expired_sessions",
        func="core.tasks.sessions_clear_expired_task",
        every_seconds=24 * 3600,
    ),
    ScheduleSpec(
        name="core.prune_rate_limits",
        func="core.tasks.ratelimit_prune_task",
        every_seconds=3600,
    ),
]
