"""django-q2 entry points of the royalties domain."""

from royalties.models import Run
from royalties.services import run_execute, runs_sweep


def run_execute_task(run_id: int) -> str:
    """Execute a queued run; a run already taken (a redelivered task) is left alone."""
    if not Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).exists():
        return f"run {run_id} is not queued; nothing to do"
    run = run_execute(run_id=run_id)
    return f"run {run.pk} {run.status}"


def runs_sweep_task() -> dict[str, int]:
    return runs_sweep()
