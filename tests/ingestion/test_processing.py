"""The processor: exactly-once totals, failure half-way, rebuild and re-process, key expiry."""

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import event_pending_count, revenue_differences
from ingestion.services import (
    event_accept,
    events_idempotency_expire,
    events_process_batch,
    events_process_pending,
    revenue_rebuild,
)
from ingestion.validation import CleanEvent
from tests.dbfaults import inserts_refused
from tests.ingestion.factories import EventFactory

pytestmark = pytest.mark.django_db


def _totals() -> dict[str, int]:
    return dict(UserRevenue.objects.values_list("user_id", "revenue"))


def _expected() -> dict[str, int]:
    expected: dict[str, int] = {}
    for user_id, amount in Event.objects.values_list("user_id", "amount"):
        expected[user_id] = expected.get(user_id, 0) + amount
    return expected


def test_processing_adds_each_users_net_change_and_marks_the_batch():
    EventFactory(user_id="user1", name="add_revenue", value=98, amount=98)
    EventFactory(user_id="user1", name="subtract_revenue", value=72, amount=-72)
    EventFactory(user_id="user2", name="add_revenue", value=70, amount=70)
    UserRevenue.objects.create(user_id="user2", revenue=-12, updated_at=timezone.now())

    processed = events_process_batch()

    assert processed is not None
    assert (processed.size, processed.users) == (3, 2)
    assert _totals() == {"user1": 26, "user2": 58}
    batch = Batch.objects.get()
    ids = sorted(Event.objects.values_list("id", flat=True))
    assert (batch.pk, batch.size, batch.users) == (processed.batch_id, 3, 2)
    assert (
        (batch.first_id, batch.last_id) == (1, ids[-1]) if ids[0] == 1 else batch.last_id == ids[-1]
    )
    assert event_pending_count() == 0


def test_nothing_pending_writes_nothing():
    assert events_process_batch() is None
    assert events_process_pending() == 0
    assert Batch.objects.count() == 0


def test_second_run_counts_nothing_twice():
    EventFactory.create_batch(50)
    assert events_process_pending(limit=7) == 50
    first = _totals()
    assert events_process_pending() == 0
    assert _totals() == first == _expected()
    assert Batch.objects.count() == 8  # 7 x 7 + 1


def test_failure_after_the_aggregate_step_leaves_nothing_half_applied():
    EventFactory.create_batch(300)

    # The second batch's record is the last write of its transaction, after the aggregate.
    with (
        inserts_refused(table=Batch._meta.db_table, after_rows=1, message="database went away"),
        pytest.raises(DatabaseError, match="database went away"),
    ):
        events_process_pending(limit=100)

    # The first batch committed whole; the second left no trace: no total, no mark, no batch.
    first_hundred = Event.objects.order_by("id")[:100]
    expected_first: dict[str, int] = {}
    for event in first_hundred:
        expected_first[event.user_id] = expected_first.get(event.user_id, 0) + event.amount
    assert _totals() == expected_first
    assert event_pending_count() == 200
    assert list(Batch.objects.values_list("size", flat=True)) == [100]

    assert events_process_pending(limit=100) == 200
    assert _totals() == _expected()
    assert revenue_differences() == []


def test_rebuild_verifies_and_repairs_from_the_log():
    EventFactory.create_batch(30)
    events_process_pending()
    assert revenue_differences() == []
    UserRevenue.objects.filter(user_id="user1").update(revenue=12345)
    UserRevenue.objects.filter(user_id="user2").delete()
    expected = _expected()

    differences = revenue_differences()
    assert [(d.user_id, d.stored, d.from_log) for d in differences] == [
        ("user1", 12345, expected["user1"]),
        ("user2", 0, expected["user2"]),
    ]
    repaired = revenue_rebuild(user_ids=["user1"])
    assert [d.user_id for d in repaired] == ["user1"]
    assert [d.user_id for d in revenue_differences()] == ["user2"]
    revenue_rebuild()
    assert revenue_differences() == []
    assert _totals() == expected


def test_rebuild_ignores_pending_events():
    EventFactory(user_id="user1", value=5, amount=5)
    events_process_pending()
    EventFactory(user_id="user1", value=7, amount=7)
    assert revenue_differences() == []
    assert revenue_rebuild() == []
    assert _totals() == {"user1": 5}


def test_expired_keys_are_forgotten_but_events_stay():
    event = CleanEvent(user_id="u", name="add_revenue", value=1, event_id=None)
    old = event_accept(credential="c", event=event, idempotency_key="k-old")
    new = event_accept(credential="c", event=event, idempotency_key="k-new")
    Event.objects.filter(pk=old.id).update(received_at=timezone.now() - timedelta(days=31))

    assert events_idempotency_expire(days=30) == 1

    assert Event.objects.count() == 2
    assert Event.objects.get(pk=old.id).idempotency_key is None
    again = event_accept(credential="c", event=event, idempotency_key="k-old")
    assert not again.duplicate
    assert event_accept(credential="c", event=event, idempotency_key="k-new") == type(new)(
        id=new.id, duplicate=True
    )
