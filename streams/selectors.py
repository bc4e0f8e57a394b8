"""Reads of the streams domain. "Active" is always judged by the database's clock."""

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Now
from django_stubs_ext import WithAnnotations

from core.errors import NotFoundError
from streams.models import RefusalHour, StreamSession, Viewer


def session_active_q(prefix: str = "") -> Q:
    """Open and not yet expired, by the database clock (``prefix`` for lookups across a join)."""
    return Q(**{f"{prefix}ended_at__isnull": True, f"{prefix}expires_at__gt": Now()})


def session_is_active_expression() -> ExpressionWrapper[Q]:
    return ExpressionWrapper(session_active_q(), output_field=BooleanField())


SESSION_STATE_ACTIVE = "active"
SESSION_STATE_LAPSED = "lapsed"


def session_state_expression() -> Case:
    """ "active", "lapsed" (expired, not yet closed by the sweep) or the end reason of an ended
    session ("stopped", "expired", "forced"), by the database clock."""
    return Case(
        When(ended_at__isnull=False, then=F("end_reason")),
        When(expires_at__gt=Now(), then=Value(SESSION_STATE_ACTIVE)),
        default=Value(SESSION_STATE_LAPSED),
        output_field=CharField(),
    )


def session_list_recent(*, viewer: Viewer, limit: int) -> list[StreamSession]:
    """A viewer's latest ``limit`` sessions, newest first, each with its ``state``."""
    rows = StreamSession.objects.filter(viewer=viewer).annotate(state=session_state_expression())
    return list(rows.order_by("-started_at", "-id")[:limit])


def session_list_active(*, viewer: Viewer) -> list[StreamSession]:
    return list(
        StreamSession.objects.filter(session_active_q(), viewer=viewer).order_by("started_at", "id")
    )


def _unknown_viewer(user_id: str) -> NotFoundError:
    return NotFoundError(f"Unknown viewer {user_id!r}.", code="viewer_not_found")


def user_id_storable(user_id: str) -> bool:
    """Whether a viewer could have this id (PostgreSQL text cannot hold NUL characters)."""
    return "\x00" not in user_id


def viewer_get(*, user_id: str) -> Viewer:
    if not user_id_storable(user_id):
        raise _unknown_viewer(user_id)
    viewer = Viewer.objects.filter(user_id=user_id).first()
    if viewer is None:
        raise _unknown_viewer(user_id)
    return viewer


@dataclass(frozen=True)
class ViewerState:
    viewer: Viewer
    active: list[StreamSession]

    @property
    def limit(self) -> int:
        return self.viewer.limit

    @property
    def can_start(self) -> bool:
        return len(self.active) < self.viewer.limit


def viewer_state_get(*, user_id: str) -> ViewerState:
    viewer = viewer_get(user_id=user_id)
    return ViewerState(viewer=viewer, active=session_list_active(viewer=viewer))


def viewer_can_start(*, user_id: str) -> bool:
    """One query: does this viewer have a free slot right now? (NotFoundError if unknown.)"""
    if not user_id_storable(user_id):
        raise _unknown_viewer(user_id)
    row = (
        viewer_list_with_active_count()
        .filter(user_id=user_id)
        .values_list("active_count", "effective_limit")
        .first()
    )
    if row is None:
        raise _unknown_viewer(user_id)
    active_count, limit = row
    return bool(active_count < limit)


class ViewerCounts(TypedDict):
    """The annotations of ``viewer_list_with_active_count``."""

    active_count: int
    effective_limit: int


def viewer_list_with_active_count() -> "QuerySet[WithAnnotations[Viewer, ViewerCounts]]":
    """Viewers with their active sessions counted by a subquery per viewer on the open-session
    index: a page of the admin's list counts its own rows only (a join to every session ever
    and a grouping took 0.7 s per statement over 1,000,000 sessions), and its total is a plain
    count of the viewers."""
    active = (
        StreamSession.objects.filter(session_active_q(), viewer=OuterRef("pk"))
        .order_by()
        .values("viewer")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Viewer.objects.annotate(
        active_count=Coalesce(Subquery(active, output_field=IntegerField()), Value(0)),
        effective_limit=Coalesce(
            "max_streams", Value(settings.STREAMS_DEFAULT_LIMIT), output_field=IntegerField()
        ),
    )


def viewer_list_over_limit(*, limit: int | None = None) -> list[tuple[str, int, int]]:
    """Viewers with more active sessions than their limit (or than ``limit`` if given).

    One statement, so on PostgreSQL it reads one snapshot: this is the invariant check the tests
    and the benchmark run from a separate connection while load runs. Returns
    ``(user_id, active, limit)`` triples; the guarantee is that it is always empty (a limit
    lowered below a running count is the one legitimate exception, hence ``limit``).
    """
    rows = viewer_list_with_active_count().filter(active_count__gt=0)
    if limit is None:
        rows = rows.filter(active_count__gt=F("effective_limit"))
    else:
        rows = rows.filter(active_count__gt=limit)
    return list(rows.values_list("user_id", "active_count", "effective_limit"))


def session_active_count() -> int:
    """Streams playing now, over all viewers."""
    return StreamSession.objects.filter(session_active_q()).count()


@dataclass(frozen=True)
class Refusals:
    total: int  # refused starts ever counted
    viewers_since: int  # viewers whose latest refusal is at or after ``since``


def refusals_get(*, since: datetime) -> Refusals:
    """Refused starts, from the counters on the viewer rows (no row is written per refusal:
    docs/decisions/0031-refusals.md), so "recent" counts viewers, not refusals."""
    row = Viewer.objects.aggregate(
        total=Coalesce(Sum("refusal_count"), 0),
        recent=Count("pk", filter=Q(last_refused_at__gte=since)),
    )
    return Refusals(total=row["total"], viewers_since=row["recent"])


def refusals_per_hour(*, since: datetime) -> list[tuple[datetime, int]]:
    """Refused starts per hour (UTC) over all viewers, hours from ``since`` on, oldest first;
    hours without a refusal are absent."""
    rows = (
        RefusalHour.objects.filter(hour__gte=since)
        .values_list("hour")
        .annotate(refused=Sum("count"))
        .order_by("hour")
    )
    return [(hour, int(refused)) for hour, refused in rows]
