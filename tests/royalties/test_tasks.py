"""The sweep repairs runs whose worker task was lost; the task leaves taken runs alone."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from royalties.models import Run
from royalties.tasks import run_execute_task, runs_sweep_task

pytestmark = pytest.mark.django_db


def _run(status: str, **times) -> Run:
    run = Run.objects.create(
        status=status, streams_path="/in/s.csv", users_path="/in/u.csv", tracks_path="/in/t.json"
    )
    Run.objects.filter(pk=run.pk).update(**times)
    return run


def _ago(seconds: int):
    return timezone.now() - timedelta(seconds=seconds)


def test_sweep_requeues_stale_queued_runs_and_fails_lost_running_ones(settings):
    settings.ROYALTIES_QUEUED_STALE_SECONDS = 600
    lost_after = settings.Q_CLUSTER["timeout"] + 300
    stale_queued = _run(Run.Status.QUEUED, created_at=_ago(601))
    fresh_queued = _run(Run.Status.QUEUED, created_at=_ago(30))
    lost = _run(Run.Status.RUNNING, started_at=_ago(lost_after + 1))
    busy = _run(Run.Status.RUNNING, started_at=_ago(lost_after - 60))

    assert runs_sweep_task() == {"requeued": 1, "failed": 1}

    assert [task.task["args"] for task in OrmQ.objects.all()] == [(stale_queued.pk,)]
    lost.refresh_from_db()
    assert lost.status == Run.Status.FAILED
    assert lost.error == (
        f"The worker stopped during the run (no result after {lost_after} s); nothing was "
        "stored. Re-run it."
    )
    assert lost.finished_at is not None
    for run, status in ((fresh_queued, "queued"), (busy, "running"), (stale_queued, "queued")):
        run.refresh_from_db()
        assert run.status == status


def test_sweep_with_nothing_stale_does_nothing():
    _run(Run.Status.QUEUED, created_at=_ago(5))
    assert runs_sweep_task() == {"requeued": 0, "failed": 0}
    assert OrmQ.objects.count() == 0


def test_a_redelivered_task_leaves_a_taken_run_alone():
    run = _run(Run.Status.RUNNING, started_at=_ago(5))
    assert run_execute_task(run.pk) == f"run {run.pk} is not queued; nothing to do"
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
