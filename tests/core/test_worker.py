"""A real worker cluster (``manage.py qcluster``) runs queued tasks, on both databases.

On PostgreSQL the web processes borrow connections from a pool; the cluster forks its
workers, and a pool does not survive a fork, so the cluster's processes must not use one
(decision 0008). Commands exit without waiting on pool threads.
"""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django_q.models import Success
from django_q.tasks import async_task


def _env(test_database_url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": test_database_url, "Q_WORKERS": "2"}
    env.pop("REDIS_URL", None)
    return env


@pytest.mark.django_db(transaction=True)
def test_a_real_cluster_runs_queued_tasks(test_database_url, settings):
    settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "redis"}
    settings.Q_CLUSTER["orm"] = "default"
    task_ids = [async_task("math.floor", n + 0.5) for n in range(10)]
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=_env(test_database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while Success.objects.filter(id__in=task_ids).count() < 10:
            assert time.monotonic() < deadline, "the cluster ran no task within 60 s"
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.2)
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=60)
    results = sorted(Success.objects.filter(id__in=task_ids).values_list("result", flat=True))
    assert results == list(range(10))
    assert "Failed to pull task" not in stderr
    assert "INTRANS" not in stderr


@pytest.mark.django_db(transaction=True)
def test_a_command_exits_without_waiting_on_pool_threads(test_database_url):
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v0",
            "-c",
            "from core.models import *; "
            "from django.db import connection; connection.ensure_connection(); print('ok')",
        ],
        cwd=settings.BASE_DIR,
        env=_env(test_database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert "couldn't stop thread" not in done.stderr
