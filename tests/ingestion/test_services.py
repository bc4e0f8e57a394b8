"""The ingestion services' write paths: accepting one event, accepting many, naming secrets."""

import pytest

from ingestion.models import Event
from ingestion.services import (
    Accepted,
    BatchAccepted,
    credential_id,
    event_accept,
    events_accept_many,
)
from ingestion.validation import CleanEvent

pytestmark = pytest.mark.django_db


def _event(user_id: str = "u1", value: int = 5, name: str = "add_revenue", event_id=None):
    return CleanEvent(user_id=user_id, name=name, value=value, event_id=event_id)


def _stored() -> list[tuple]:
    rows = Event.objects.order_by("id").values_list(
        "user_id", "name", "value", "amount", "idempotency_key", "credential"
    )
    return list(rows)


def test_credential_id_is_a_stable_short_name_that_hides_the_secret():
    assert credential_id(secret="secret") == credential_id(secret="secret")
    assert len(credential_id(secret="secret")) == 16
    assert credential_id(secret="secret") != credential_id(secret="other")
    assert "secret" not in credential_id(secret="secret")


def test_accept_stores_the_signed_amount_and_the_key(django_assert_num_queries):
    with django_assert_num_queries(1):
        first = event_accept(credential="c1", event=_event(event_id="e1"), idempotency_key=None)
    second = event_accept(
        credential="c1", event=_event("u2", 3, "subtract_revenue"), idempotency_key="k1"
    )

    assert first == Accepted(id=first.id, duplicate=False)
    assert second == Accepted(id=second.id, duplicate=False)
    assert _stored() == [
        ("u1", "add_revenue", 5, 5, "e1", "c1"),
        ("u2", "subtract_revenue", 3, -3, "k1", "c1"),
    ]


def test_a_repeated_key_returns_the_original_and_stores_nothing():
    original = event_accept(credential="c1", event=_event(event_id="e1"), idempotency_key=None)

    again = event_accept(
        credential="c1", event=_event(value=99, event_id="e1"), idempotency_key=None
    )
    by_header = event_accept(credential="c1", event=_event(value=7), idempotency_key="e1")

    assert again == by_header == Accepted(id=original.id, duplicate=True)
    assert _stored() == [("u1", "add_revenue", 5, 5, "e1", "c1")]


def test_the_event_id_wins_over_the_header_and_keys_are_per_credential():
    a = event_accept(credential="c1", event=_event(event_id="e1"), idempotency_key="h1")
    b = event_accept(credential="c2", event=_event(event_id="e1"), idempotency_key=None)
    c = event_accept(credential="c1", event=_event(), idempotency_key=None)
    d = event_accept(credential="c1", event=_event(), idempotency_key=None)

    assert [a.duplicate, b.duplicate, c.duplicate, d.duplicate] == [False] * 4
    assert [row[4:] for row in _stored()] == [
        ("e1", "c1"),
        ("e1", "c2"),
        (None, "c1"),
        (None, "c1"),
    ]


def test_accept_many_counts_repeats_in_the_batch_and_in_the_log_as_duplicates():
    event_accept(credential="c1", event=_event(event_id="stored"), idempotency_key=None)
    batch = [
        (_event("a", 1, event_id="new"), None),
        (_event("b", 2, event_id="new"), None),  # repeat within the batch
        (_event("c", 3, event_id="stored"), None),  # already in the log
        (_event("d", 4, "subtract_revenue"), "fallback"),
        (_event("e", 5), None),
    ]

    result = events_accept_many(credential="c1", events=batch)

    assert result == BatchAccepted(accepted=3, duplicates=2)
    assert _stored()[1:] == [
        ("a", "add_revenue", 1, 1, "new", "c1"),
        ("d", "subtract_revenue", 4, -4, "fallback", "c1"),
        ("e", "add_revenue", 5, 5, None, "c1"),
    ]


def test_accept_many_with_only_repeats_writes_nothing():
    batch = [(_event(event_id="k"), None), (_event(event_id="k"), None)]
    event_accept(credential="c1", event=_event(event_id="k"), idempotency_key=None)

    assert events_accept_many(credential="c1", events=[]) == BatchAccepted(0, 0)
    assert events_accept_many(credential="c1", events=batch) == BatchAccepted(0, 2)
    assert Event.objects.count() == 1


def test_accept_many_goes_past_the_sqlite_parameter_limit():
    batch = [(_event(f"u{i}", i), f"k{i}") for i in range(1000)]

    assert events_accept_many(credential="c1", events=batch) == BatchAccepted(1000, 0)
    assert Event.objects.count() == 1000
    assert sum(Event.objects.values_list("amount", flat=True)) == sum(range(1000))
