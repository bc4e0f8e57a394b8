"""django-q2 entry points of the webhooks domain."""

from webhooks.work import WORK_BATCHER, work_run_due


def work_sweep_task() -> int:
    """The schedule's tick: one pass over what is due now (work whose drain task died is
    taken back here once its lease lapses), then a drain task if work falls due soon."""
    handled = work_run_due()
    WORK_BATCHER.check()
    return handled
