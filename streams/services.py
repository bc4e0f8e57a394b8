"""Writes of the streams domain: starting, keeping alive and ending sessions; viewer limits.

The guarantee (no viewer ever has more active sessions than their limit) rests on one rule:
every write that can add to a viewer's active count (a start, or a heartbeat that keeps a
session alive) first locks that viewer's row, then judges expiry with the database clock in a
later statement of the same short transaction. On PostgreSQL the lock is ``SELECT ... FOR
UPDATE``; on SQLite every write transaction is ``BEGIN IMMEDIATE`` (config/settings.py), which
serialises them all. See docs/decisions/0030-lease-timing.md and 0031-refusals.md.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now

from core.errors import ApplicationError, ConflictError, NotFoundError
from streams import sql
from streams.models import EndReason, RefusalHour, StreamSession, Viewer
from streams.selectors import session_is_active_expression

MAX_STREAMS_LIMIT = 100


class StreamLimitReachedError(ConflictError):
    code = "stream_limit_reached"

    def __init__(self, *, limit: int, active: Sequence[StreamSession]) -> None:
        super().__init__(
            f"The viewer already has {len(active)} active stream(s); the limit is {limit}.",
            extra={"limit": limit, "active": [session_summary(s) for s in active]},
        )
        self.limit = limit
        self.active = active


class SessionGoneError(ApplicationError):
    status_code = 410
    code = "session_ended"


def session_summary(session: StreamSession) -> dict[str, Any]:
    """The shape in which active sessions are listed (409 body, viewer read)."""
    return {
        "id": str(session.id),
        "device_id": session.device_id,
        "content_id": session.content_id,
        "started_at": session.started_at,
        "last_heartbeat": session.last_heartbeat,
        "expires_at": session.expires_at,
    }


def _lease_end() -> ExpressionWrapper[Any]:
    """The database's now plus the lease: when a session heard from now expires."""
    return ExpressionWrapper(
        Now() + Value(timedelta(seconds=settings.STREAMS_LEASE_SECONDS)),
        output_field=DateTimeField(),
    )


@dataclass(frozen=True)
class SessionStart:
    session: StreamSession
    created: bool
    active: int
    limit: int


def session_start(
    *,
    user_id: str,
    device_id: str | None = None,
    content_id: str | None = None,
    session_id: uuid.UUID | None = None,
) -> SessionStart:
    """Start a stream for a viewer, or return the session a retry refers to.

    Raises NotFoundError (unknown viewer), StreamLimitReachedError (409, nothing written but the
    viewer's refusal counter) or ConflictError (a ``session_id`` that is not a live session of
    this viewer).
    """
    start = _session_start_postgres if connection.vendor == "postgresql" else _session_start_locked
    try:
        outcome = start(
            user_id=user_id, device_id=device_id, content_id=content_id, session_id=session_id
        )
    except IntegrityError:
        # The viewer lock serialises this viewer's starts, so the only collision left is a
        # client-made session_id that another viewer's session already holds (primary key).
        if session_id is not None and StreamSession.objects.filter(id=session_id).exists():
            raise _session_id_taken() from None
        raise
    if isinstance(outcome, StreamLimitReachedError):
        raise outcome
    return outcome


def _session_id_taken() -> ConflictError:
    return ConflictError(
        "This session_id belongs to another viewer's session.", code="session_id_taken"
    )


_SESSION_TIMES = ("started_at", "last_heartbeat", "expires_at", "ended_at")


def _session_from_json(fields: dict[str, Any], **extra: Any) -> StreamSession:
    fields["id"] = uuid.UUID(fields["id"])
    for name in _SESSION_TIMES:
        if fields.get(name) is not None:
            fields[name] = datetime.fromisoformat(fields[name])
    return StreamSession(**{**fields, **extra})


def _session_start_postgres(
    *,
    user_id: str,
    device_id: str | None,
    content_id: str | None,
    session_id: uuid.UUID | None,
) -> SessionStart | StreamLimitReachedError:
    """The start in one round trip: the database function ``streams_session_start``
    (migrations streams 0002 and 0004, decision 0034) runs ``_session_start_locked``'s steps in one
    statement, so the viewer's lock is held for one statement instead of four round trips."""
    answer = sql.session_start_call(
        user_id=user_id,
        device_id=device_id,
        content_id=content_id,
        session_id=session_id,
        new_id=uuid.uuid4(),
        lease_seconds=settings.STREAMS_LEASE_SECONDS,
        default_limit=settings.STREAMS_DEFAULT_LIMIT,
    )
    outcome = answer["outcome"]
    if outcome == "viewer_not_found":
        raise NotFoundError(f"Unknown viewer {user_id!r}.", code="viewer_not_found")
    if outcome == "session_id_taken":
        raise _session_id_taken()
    if outcome == "session_ended":
        raise _session_ended()
    if outcome == "refused":
        active = [_session_from_json(fields) for fields in answer["active_sessions"]]
        return StreamLimitReachedError(limit=answer["limit"], active=active)
    session = _session_from_json(answer["session"])
    session.viewer = Viewer(id=session.viewer_id, user_id=user_id)
    return SessionStart(
        session=session,
        created=outcome == "created",
        active=answer["active"],
        limit=answer["limit"],
    )


def _session_ended() -> ConflictError:
    return ConflictError(
        "This session has ended; start a new one with a new session_id.", code="session_ended"
    )


def _retried_session(
    *,
    viewer: Viewer,
    active: Sequence[StreamSession],
    session_id: uuid.UUID | None,
    device_id: str | None,
) -> StreamSession | None:
    """The live session a retry refers to (same ``session_id``, or same device), if any."""
    if session_id is not None:
        existing = (
            StreamSession.objects.annotate(is_active=session_is_active_expression())
            .filter(id=session_id)
            .first()
        )
        if existing is not None:
            if existing.viewer_id != viewer.pk:
                raise _session_id_taken()
            if not existing.is_active:
                raise _session_ended()
            return existing
    if device_id is not None:
        return next((s for s in active if s.device_id == device_id), None)
    return None


def _session_insert(
    *,
    viewer: Viewer,
    open_sessions: Sequence[StreamSession],
    device_id: str | None,
    content_id: str | None,
    session_id: uuid.UUID | None,
) -> StreamSession:
    if device_id is not None and any(s.device_id == device_id for s in open_sessions):
        # This device's previous session expired without a stop: close it now (it no
        # longer counts anyway) so the one-open-session-per-device constraint holds.
        StreamSession.objects.filter(
            viewer=viewer, device_id=device_id, ended_at__isnull=True
        ).update(ended_at=F("expires_at"), end_reason=EndReason.EXPIRED)
    session = StreamSession.objects.create(
        id=session_id or uuid.uuid4(),
        viewer=viewer,
        device_id=device_id,
        content_id=content_id,
        started_at=Now(),
        last_heartbeat=Now(),
        expires_at=_lease_end(),
    )
    session.viewer = viewer
    return session


def _session_start_locked(
    *,
    user_id: str,
    device_id: str | None,
    content_id: str | None,
    session_id: uuid.UUID | None,
) -> SessionStart | StreamLimitReachedError:
    with transaction.atomic():
        viewer = Viewer.objects.select_for_update().filter(user_id=user_id).first()
        if viewer is None:
            raise NotFoundError(f"Unknown viewer {user_id!r}.", code="viewer_not_found")
        # Everything below runs after the lock is held, so its Now() is later than any commit
        # of a competing start or heartbeat of this viewer. Each open session is judged active
        # or lapsed by that clock (a lapsed one no longer counts; it is closed only if its
        # device starts again, or by the housekeeping schedule).
        open_sessions = list(
            StreamSession.objects.filter(viewer=viewer, ended_at__isnull=True)
            .annotate(is_active=session_is_active_expression())
            .order_by("started_at", "id")
        )
        active = [session for session in open_sessions if session.is_active]
        limit = viewer.limit
        retried = _retried_session(
            viewer=viewer, active=active, session_id=session_id, device_id=device_id
        )
        if retried is not None:
            return SessionStart(session=retried, created=False, active=len(active), limit=limit)
        if len(active) >= limit:
            Viewer.objects.filter(pk=viewer.pk).update(
                refusal_count=F("refusal_count") + 1, last_refused_at=Now()
            )
            sql.refusal_hour_count(viewer_id=viewer.pk)
            return StreamLimitReachedError(limit=limit, active=active)
        session = _session_insert(
            viewer=viewer,
            open_sessions=open_sessions,
            device_id=device_id,
            content_id=content_id,
            session_id=session_id,
        )
        return SessionStart(session=session, created=True, active=len(active) + 1, limit=limit)


def session_heartbeat(*, session_id: uuid.UUID) -> StreamSession:
    """Extend a live session's lease to the database's now + STREAMS_LEASE_SECONDS.

    NotFoundError for an unknown id; SessionGoneError (410) if it has ended or expired: a lease that
    lapsed is never revived, because a start may already have reused its slot.

    One statement: like a start, it locks the viewer row first (otherwise a heartbeat judged
    "alive" just before expiry could commit after a concurrent start counted that session as
    expired), then judges by the clock read after the lock is held.
    """
    extended = sql.session_heartbeat_extend(
        session_id=session_id, lease_seconds=settings.STREAMS_LEASE_SECONDS
    )
    if extended is None:
        if not StreamSession.objects.filter(id=session_id).exists():
            raise NotFoundError("Unknown stream session.", code="session_not_found")
        raise SessionGoneError("This session has ended or expired; start a new one.")
    session, user_id = extended
    session.viewer = Viewer(id=session.viewer_id, user_id=user_id)
    return session


def session_stop(*, session_id: uuid.UUID) -> None:
    """End a session (idempotent: ending an ended session changes nothing). Unknown id: 404."""
    ended = sql.sessions_end(session_ids=[session_id], reason=EndReason.STOPPED.value)
    if not ended and not StreamSession.objects.filter(id=session_id).exists():
        raise NotFoundError("Unknown stream session.", code="session_not_found")


def session_end_many(*, session_ids: Iterable[uuid.UUID], reason: str = EndReason.FORCED) -> int:
    """End the given open sessions now (operator's force end). Returns how many were open."""
    return sql.sessions_end(session_ids=list(session_ids), reason=reason)


def session_close_expired() -> int:
    """Housekeeping: mark lapsed leases as ended at their expiry. Counting never depends on it."""
    return StreamSession.objects.filter(ended_at__isnull=True, expires_at__lte=Now()).update(
        ended_at=F("expires_at"), end_reason=EndReason.EXPIRED
    )


def session_purge_ended(*, older_than_days: int | None = None) -> int:
    deleted, _ = StreamSession.objects.filter(ended_at__lt=_horizon(older_than_days)).delete()
    return deleted


def refusal_hours_purge(*, older_than_days: int | None = None) -> int:
    """Delete the hourly refusal counts older than the retention (the viewers' own counters
    keep the all-time total)."""
    deleted, _ = RefusalHour.objects.filter(hour__lt=_horizon(older_than_days)).delete()
    return deleted


def _horizon(older_than_days: int | None) -> "ExpressionWrapper[CombinedExpression]":
    days = settings.STREAMS_ENDED_RETENTION_DAYS if older_than_days is None else older_than_days
    return ExpressionWrapper(Now() - Value(timedelta(days=days)), output_field=DateTimeField())


def _validate_max_streams(max_streams: int | None) -> None:
    if max_streams is not None and not 1 <= max_streams <= MAX_STREAMS_LIMIT:
        raise ApplicationError(
            f"max_streams must be between 1 and {MAX_STREAMS_LIMIT}.", code="invalid_limit"
        )


def viewer_set_limit(*, user_id: str, max_streams: int | None) -> tuple[Viewer, bool]:
    """Create or update a viewer. ``None`` means the platform default. Returns (viewer, created).

    Lowering a limit below the running count ends nothing: new starts are refused until enough
    sessions end. The update takes the viewer's row lock, so it is ordered with starts.
    """
    _validate_max_streams(max_streams)
    return Viewer.objects.update_or_create(user_id=user_id, defaults={"max_streams": max_streams})


@dataclass(frozen=True)
class ViewerImport:
    created: int
    updated: int


def viewers_upsert(*, limits: dict[str, int | None], update_existing: bool = True) -> ViewerImport:
    """Create or update many viewers in one transaction (the CSV import, the demo data).

    ``update_existing=False`` only creates the missing viewers: existing ones keep their limit
    (an import without a max_streams column, or a second run of the demo data).
    """
    for max_streams in limits.values():
        _validate_max_streams(max_streams)
    user_ids = list(limits)
    with transaction.atomic():
        existing: set[str] = set()
        for start in range(0, len(user_ids), 1000):
            chunk = user_ids[start : start + 1000]
            existing.update(
                Viewer.objects.filter(user_id__in=chunk).values_list("user_id", flat=True)
            )
        rows = [Viewer(user_id=u, max_streams=m) for u, m in limits.items()]
        if not update_existing:
            Viewer.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
            return ViewerImport(created=len(set(user_ids) - existing), updated=0)
        Viewer.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["user_id"],
            update_fields=["max_streams", "updated_at"],
        )
    return ViewerImport(created=len(set(user_ids) - existing), updated=len(existing))
