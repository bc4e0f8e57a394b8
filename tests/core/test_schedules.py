"""Schedules declared in code sync to django-q2 without duplicates, however often they run."""

import io

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from core.schedules import ScheduleSpec, schedules_declared, schedules_sync

pytestmark = pytest.mark.django_db


def _rows():
    return sorted(Schedule.objects.values_list("name", "func", "minutes", "repeats"))


def test_sync_twice_gives_one_row_per_declared_schedule():
    Schedule.objects.all().delete()
    declared = schedules_declared()
    assert "core.clear_expired_sessions" in [spec.name for spec in declared]

    first = schedules_sync()
    rows_after_first = _rows()
    second = schedules_sync()
    call_command("sync_schedules", stdout=io.StringIO())  # the command, a third time

    assert first["created"] == len(declared)
    assert second == {"created": 0, "updated": len(declared), "deleted": 0}
    assert _rows() == rows_after_first
    assert len(rows_after_first) == len(declared)
    assert Schedule.objects.get(name="core.clear_expired_sessions").minutes == 24 * 60


def test_sync_repairs_a_changed_row_and_removes_undeclared_platform_schedules():
    schedules_sync()
    Schedule.objects.filter(name="core.clear_expired_sessions").update(minutes=5, func="x.y")
    Schedule.objects.create(name="core.renamed_long_ago", func="core.tasks.gone", minutes=1)
    Schedule.objects.create(name="someone-elses", func="other.task", minutes=1)

    counts = schedules_sync()

    row = Schedule.objects.get(name="core.clear_expired_sessions")
    assert (row.func, row.minutes) == ("core.tasks.sessions_clear_expired_task", 24 * 60)
    assert counts["deleted"] == 1
    assert not Schedule.objects.filter(name="core.renamed_long_ago").exists()
    assert Schedule.objects.filter(name="someone-elses").exists()  # not ours: left alone


def test_interval_is_rounded_up_to_whole_minutes():
    assert ScheduleSpec("a.b", "a.b", every_seconds=60).minutes == 1
    assert ScheduleSpec("a.b", "a.b", every_seconds=61).minutes == 2
    assert ScheduleSpec("a.b", "a.b", every_seconds=5).minutes == 1


def test_migrate_syncs_the_schedules():
    Schedule.objects.all().delete()
    call_command("migrate", verbosity=0)
    assert Schedule.objects.filter(name="core.clear_expired_sessions").count() == 1
