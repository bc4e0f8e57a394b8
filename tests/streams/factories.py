"""Factories and clock helpers for the streams tests."""

from datetime import timedelta

import factory
import pytest
from django.db.models import F

from streams.models import StreamSession, Viewer
from streams.services import StreamLimitReachedError, session_start


class ViewerFactory(factory.django.DjangoModelFactory[Viewer]):
    class Meta:
        model = Viewer
        django_get_or_create = ("user_id",)

    user_id = factory.Sequence(lambda n: f"viewer-{n}")
    max_streams = None


def sessions_age(*, seconds: float, **filters) -> int:
    """Move sessions back in time by ``seconds``: as if the database clock had advanced.

    Expiry is judged against the database's now, so shifting every timestamp of the chosen
    sessions into the past is exactly what the passage of time does to them (see
    docs/decisions/0030-lease-timing.md). Returns the number of sessions moved.
    """
    delta = timedelta(seconds=seconds)
    return StreamSession.objects.filter(**filters).update(
        started_at=F("started_at") - delta,
        last_heartbeat=F("last_heartbeat") - delta,
        expires_at=F("expires_at") - delta,
    )


def starts_refused(*, user_id: str, times: int = 1) -> None:
    """``times`` starts of a viewer already at their limit, each from a device of its own, each
    refused (a refusal counted on the viewer and in its hour)."""
    for attempt in range(times):
        with pytest.raises(StreamLimitReachedError):
            session_start(user_id=user_id, device_id=f"refused-{attempt}")
