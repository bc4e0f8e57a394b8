"""Housekeeping: the close-expired schedule and its task."""

from datetime import timedelta

import pytest
from django.test import override_settings

from core.schedules import schedules_declared
from streams.models import EndReason, RefusalHour, StreamSession
from streams.services import session_start, session_stop
from streams.tasks import sessions_close_expired_task
from tests.streams.factories import ViewerFactory, sessions_age, starts_refused

pytestmark = pytest.mark.django_db


def test_schedule_is_declared():
    specs = {spec.name: spec for spec in schedules_declared()}
    assert specs["streams.close_expired"].func == "streams.tasks.sessions_close_expired_task"
    assert specs["streams.close_expired"].minutes == 1


def test_close_expired_marks_lapsed_sessions_only():
    ViewerFactory(user_id="alice")
    live = session_start(user_id="alice", device_id="tv").session
    lapsed = session_start(user_id="alice", device_id="phone").session
    sessions_age(seconds=61, id=lapsed.id)
    assert sessions_close_expired_task() == {"closed": 1, "purged": 0, "refusal_hours_purged": 0}
    lapsed.refresh_from_db()
    live.refresh_from_db()
    assert lapsed.end_reason == EndReason.EXPIRED
    assert lapsed.ended_at == lapsed.expires_at
    assert live.ended_at is None
    assert sessions_close_expired_task() == {"closed": 0, "purged": 0, "refusal_hours_purged": 0}


@override_settings(STREAMS_ENDED_RETENTION_DAYS=30)
def test_ended_sessions_are_purged_after_retention():
    ViewerFactory(user_id="alice")
    old = session_start(user_id="alice").session
    recent = session_start(user_id="alice").session
    session_stop(session_id=old.id)
    session_stop(session_id=recent.id)
    StreamSession.objects.filter(id=old.id).update(ended_at=old.started_at - timedelta(days=31))
    assert sessions_close_expired_task() == {"closed": 0, "purged": 1, "refusal_hours_purged": 0}
    assert list(StreamSession.objects.values_list("id", flat=True)) == [recent.id]


@override_settings(STREAMS_ENDED_RETENTION_DAYS=30)
def test_refusal_hours_are_purged_after_retention():
    viewer = ViewerFactory.create(user_id="alice", max_streams=1)
    session_start(user_id="alice", device_id="tv")
    starts_refused(user_id="alice")
    (kept,) = RefusalHour.objects.all()
    old = RefusalHour.objects.create(viewer=viewer, hour=kept.hour - timedelta(days=31), count=4)
    assert sessions_close_expired_task() == {"closed": 0, "purged": 0, "refusal_hours_purged": 1}
    assert list(RefusalHour.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not RefusalHour.objects.filter(pk=old.pk).exists()
    viewer.refresh_from_db()
    assert viewer.refusal_count == 1  # the all-time counter is not the history
