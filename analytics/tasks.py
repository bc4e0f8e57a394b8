"""django-q2 entry points of the analytics domain."""

from analytics.services import EVENTS_BATCHER


def events_process_task() -> int:
    """The timeout side of the batcher: drain whatever is pending, however little."""
    return EVENTS_BATCHER.run()
