"""Leases and the database clock; services the API tests do not reach."""

import time
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from core.errors import ApplicationError, NotFoundError
from streams.models import EndReason, RefusalHour, StreamSession, Viewer
from streams.selectors import viewer_can_start, viewer_list_over_limit, viewer_state_get
from streams.services import (
    SessionGoneError,
    StreamLimitReachedError,
    session_end_many,
    session_heartbeat,
    session_start,
    session_stop,
    viewer_set_limit,
    viewers_upsert,
)
from tests.streams.factories import ViewerFactory, sessions_age, starts_refused

pytestmark = pytest.mark.django_db


def test_silent_session_frees_its_slot_after_the_lease():
    ViewerFactory(user_id="alice", max_streams=1)
    first = session_start(user_id="alice", device_id="tv").session
    with pytest.raises(StreamLimitReachedError):
        session_start(user_id="alice", device_id="phone")

    # 59 s after its last heartbeat the lease still holds the slot...
    sessions_age(seconds=59, id=first.id)
    with pytest.raises(StreamLimitReachedError):
        session_start(user_id="alice", device_id="phone")
    assert viewer_can_start(user_id="alice") is False

    # ...at 60 s it has expired: the slot is free, and the late heartbeat is refused.
    sessions_age(seconds=1, id=first.id)
    assert viewer_can_start(user_id="alice") is True
    second = session_start(user_id="alice", device_id="phone")
    assert second.created is True
    assert second.active == 1
    with pytest.raises(SessionGoneError):
        session_heartbeat(session_id=first.id)


def test_heartbeats_keep_a_session_past_its_first_lease():
    ViewerFactory(user_id="alice", max_streams=1)
    session = session_start(user_id="alice").session
    for _ in range(5):  # 5 x 40 s = 200 s of watching, one heartbeat every 40 s
        sessions_age(seconds=40, id=session.id)
        session_heartbeat(session_id=session.id)
    with pytest.raises(StreamLimitReachedError):
        session_start(user_id="alice")


def test_expiry_follows_the_database_clock_not_the_web_process_clock():
    ViewerFactory(user_id="alice", max_streams=1)
    session_start(user_id="alice")
    far_future = timezone.now() + timedelta(days=365)
    with mock.patch("django.utils.timezone.now", return_value=far_future):
        assert viewer_can_start(user_id="alice") is False
        with pytest.raises(StreamLimitReachedError):
            session_start(user_id="alice")


@override_settings(STREAMS_LEASE_SECONDS=1)
def test_lease_really_lapses_on_the_database_clock():
    # The one test that lets real time pass (a one-second lease), so that the expiry
    # arithmetic is checked against the database's own clock, not shifted rows.
    ViewerFactory(user_id="alice", max_streams=1)
    first = session_start(user_id="alice").session
    assert (first.expires_at - first.started_at) == timedelta(seconds=1)
    with pytest.raises(StreamLimitReachedError):
        session_start(user_id="alice")
    time.sleep(1.1)
    assert session_start(user_id="alice").created is True
    with pytest.raises(SessionGoneError):
        session_heartbeat(session_id=first.id)


def test_refusal_leaves_only_the_counter():
    viewer = ViewerFactory.create(user_id="alice", max_streams=1)
    session_start(user_id="alice", device_id="tv")
    before = list(StreamSession.objects.values_list("id", "expires_at", "ended_at"))
    with pytest.raises(StreamLimitReachedError) as refused:
        session_start(user_id="alice", device_id="phone", session_id=uuid.uuid4())
    assert refused.value.limit == 1
    assert [s.device_id for s in refused.value.active] == ["tv"]
    assert list(StreamSession.objects.values_list("id", "expires_at", "ended_at")) == before
    viewer.refresh_from_db()
    assert (viewer.refusal_count, viewer.max_streams) == (1, 1)
    assert viewer.last_refused_at is not None
    hour = viewer.last_refused_at.replace(minute=0, second=0, microsecond=0)
    assert list(RefusalHour.objects.values_list("viewer_id", "hour", "count")) == [
        (viewer.pk, hour, 1)
    ]


def test_refusals_in_one_hour_add_up_on_one_row_per_viewer():
    alice = ViewerFactory.create(user_id="alice", max_streams=1)
    bob = ViewerFactory.create(user_id="bob", max_streams=1)
    session_start(user_id="alice", device_id="tv")
    session_start(user_id="bob", device_id="tv")
    starts_refused(user_id="alice", times=3)
    starts_refused(user_id="bob", times=2)
    rows = RefusalHour.objects.order_by("viewer__user_id").values_list("viewer_id", "count")
    assert list(rows) == [(alice.pk, 3), (bob.pk, 2)]


def test_a_refusal_in_a_new_hour_starts_a_new_row():
    viewer = ViewerFactory.create(user_id="alice", max_streams=1)
    session_start(user_id="alice", device_id="tv")
    starts_refused(user_id="alice")
    # Move the first refusal's row back an hour, as if it had been counted then.
    (row,) = RefusalHour.objects.all()
    earlier = row.hour - timedelta(hours=1)
    RefusalHour.objects.filter(pk=row.pk).update(hour=earlier)
    starts_refused(user_id="alice")
    hours = RefusalHour.objects.filter(viewer=viewer).order_by("hour")
    assert list(hours.values_list("hour", "count")) == [(earlier, 1), (row.hour, 1)]


def test_start_unknown_viewer_writes_nothing():
    with pytest.raises(NotFoundError):
        session_start(user_id="ghost")
    assert StreamSession.objects.count() == 0
    assert Viewer.objects.count() == 0


def test_stop_of_a_lapsed_session_records_the_expiry():
    ViewerFactory(user_id="alice")
    session = session_start(user_id="alice").session
    sessions_age(seconds=90, id=session.id)
    session_stop(session_id=session.id)
    session.refresh_from_db()
    assert session.end_reason == EndReason.EXPIRED
    assert session.ended_at == session.expires_at


def test_end_many_forces_only_open_sessions():
    ViewerFactory(user_id="alice")
    a = session_start(user_id="alice").session
    b = session_start(user_id="alice").session
    session_stop(session_id=b.id)
    assert session_end_many(session_ids=[a.id, b.id]) == 1
    reasons = dict(StreamSession.objects.values_list("id", "end_reason"))
    assert reasons == {a.id: EndReason.FORCED, b.id: EndReason.STOPPED}


def test_viewer_set_limit_validates():
    for bad in (0, 101, -1):
        with pytest.raises(ApplicationError):
            viewer_set_limit(user_id="alice", max_streams=bad)
    assert Viewer.objects.count() == 0
    assert viewer_set_limit(user_id="alice", max_streams=None)[1] is True
    viewer, created = viewer_set_limit(user_id="alice", max_streams=100)
    assert (created, viewer.limit) == (False, 100)


@override_settings(STREAMS_DEFAULT_LIMIT=2)
def test_default_limit_follows_the_setting():
    ViewerFactory(user_id="alice")
    session_start(user_id="alice")
    assert viewer_state_get(user_id="alice").can_start is True
    session_start(user_id="alice")
    assert viewer_state_get(user_id="alice").can_start is False
    assert viewer_state_get(user_id="alice").limit == 2


def test_over_limit_report():
    ViewerFactory(user_id="alice", max_streams=3)
    ViewerFactory(user_id="bob", max_streams=1)
    for _ in range(3):
        session_start(user_id="alice")
    session_start(user_id="bob")
    assert viewer_list_over_limit() == []
    viewer_set_limit(user_id="alice", max_streams=2)  # lowered below the running count
    assert viewer_list_over_limit() == [("alice", 3, 2)]
    assert viewer_list_over_limit(limit=3) == []


def test_viewers_upsert_counts_and_keeps_existing_limits_when_asked():
    ViewerFactory(user_id="alice", max_streams=5)
    result = viewers_upsert(limits={"alice": 2, "bob": None})
    assert (result.created, result.updated) == (1, 1)
    assert dict(Viewer.objects.values_list("user_id", "max_streams")) == {"alice": 2, "bob": None}
    result = viewers_upsert(limits={"alice": None, "carol": None}, update_existing=False)
    assert (result.created, result.updated) == (1, 0)
    assert dict(Viewer.objects.values_list("user_id", "max_streams")) == {
        "alice": 2,
        "bob": None,
        "carol": None,
    }
