"""Read-side helpers of the platform itself: health of the database and the worker cluster."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core import sql

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    database_ok: bool
    database_error: str | None
    worker_clusters: int
    worker_last_seen: datetime | None

    @property
    def ok(self) -> bool:
        return self.database_ok and self.worker_clusters > 0


def health_get() -> Health:
    database_ok, database_error = True, None
    try:
        sql.database_ping()
    except Exception as exc:  # the point is to report any failure, not to raise it
        database_ok, database_error = False, type(exc).__name__
        logger.warning("health: database check failed: %s", exc)

    clusters, last_seen = 0, None
    try:
        from django_q.conf import Conf
        from django_q.status import Stat

        horizon = timezone.now() - timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
        # A cluster that stopped cleanly saves a last, "Stopped" status: not a live worker.
        fresh = [
            stat
            for stat in Stat.get_all()
            if stat.timestamp >= horizon and stat.status != Conf.STOPPED
        ]
        clusters = len(fresh)
        last_seen = max((stat.timestamp for stat in fresh), default=None)
    except Exception as exc:
        logger.warning("health: worker check failed: %s", exc)
    return Health(database_ok, database_error, clusters, last_seen)
