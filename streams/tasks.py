"""django-q2 entry points of the streams domain (housekeeping only)."""

from streams.services import refusal_hours_purge, session_close_expired, session_purge_ended


def sessions_close_expired_task() -> dict[str, int]:
    """Mark lapsed leases as ended; delete sessions and hourly refusal counts past the
    retention period (STREAMS_ENDED_RETENTION_DAYS).

    Counting active sessions never depends on this running: expiry is judged by the database
    clock on every read. It keeps the open-session indexes and the tables small.
    """
    return {
        "closed": session_close_expired(),
        "purged": session_purge_ended(),
        "refusal_hours_purged": refusal_hours_purge(),
    }
