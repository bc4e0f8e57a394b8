"""Totals never leave the BIGINT range, and one user's huge events never hold back the others.

Counting an event that would take a user's total past 2**63 - 1 (or below -2**63) leaves that
event out of the total and marks it ``out_of_range``; every other event of the same batch, of
that user and of every other user, is counted (decision 0024).
"""

import pytest
from django.core.management import call_command

from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import event_pending_count, revenue_differences, user_revenue_summary_get
from ingestion.services import events_process_pending
from ingestion.sql import REVENUE_MAX, REVENUE_MIN
from tests.ingestion.factories import EventFactory

pytestmark = pytest.mark.django_db

BIGGEST = 2**53 - 1  # the largest value an event may carry


def _add(user_id: str, value: int, count: int = 1) -> None:
    EventFactory.create_batch(count, user_id=user_id, name="add_revenue", value=value, amount=value)


def _subtract(user_id: str, value: int, count: int = 1) -> None:
    EventFactory.create_batch(
        count, user_id=user_id, name="subtract_revenue", value=value, amount=-value
    )


def _totals() -> dict[str, int]:
    return dict(UserRevenue.objects.values_list("user_id", "revenue"))


@pytest.mark.parametrize("claim", [10_000, 100, 7])
def test_the_largest_values_fill_the_total_and_the_rest_are_left_out(claim):
    _add("alice", 5)
    _add("big", BIGGEST, count=1100)
    _add("bob", 7)
    _subtract("big", 5)  # fits again after 1,024 of the largest values
    _add("big", BIGGEST)  # would overflow again
    _add("big", 1000)  # fits
    _subtract("alice", 2)

    processed = events_process_pending(limit=claim)

    assert processed == 1106
    assert event_pending_count() == 0
    # 1,024 x (2**53 - 1) = 2**63 - 1024, the most that fits; then -5, then +1000.
    assert _totals() == {"alice": 3, "bob": 7, "big": 2**63 - 1024 - 5 + 1000}
    assert _totals()["big"] <= REVENUE_MAX
    assert Event.objects.filter(out_of_range=True).count() == 1100 - 1024 + 1
    assert set(Event.objects.filter(out_of_range=True).values_list("user_id", flat=True)) == {"big"}
    assert sum(Batch.objects.values_list("out_of_range", flat=True)) == 77
    assert sum(Batch.objects.values_list("size", flat=True)) == 1106
    assert revenue_differences() == []
    summary = user_revenue_summary_get(user_id="big")
    assert summary is not None
    assert (summary.revenue, summary.pending_events) == (2**63 - 29, 0)


def test_a_total_never_goes_below_the_smallest_bigint():
    _subtract("debtor", BIGGEST, count=1030)
    _add("debtor", 1)

    events_process_pending()

    # 1,024 subtractions reach -(2**63) + 1024; the 1,025th would pass -(2**63).
    assert _totals() == {"debtor": -(2**63) + 1024 + 1}
    assert _totals()["debtor"] >= REVENUE_MIN
    assert Event.objects.filter(out_of_range=True).count() == 6
    assert revenue_differences() == []


def test_a_stored_total_near_the_bound_is_taken_into_account():
    _add("near", BIGGEST, count=1000)
    events_process_pending()
    assert Event.objects.filter(out_of_range=True).count() == 0

    _add("near", BIGGEST, count=30)
    _add("other", 1)
    events_process_pending()

    assert _totals() == {"near": 1024 * BIGGEST, "other": 1}
    assert Event.objects.filter(out_of_range=True).count() == 6


def test_rebuild_verify_agrees_after_events_were_left_out(capsys):
    _add("big", BIGGEST, count=1030)
    events_process_pending()

    call_command("rebuild_revenue", "--verify")

    assert capsys.readouterr().out == "every total matches the event log\n"


def test_the_admin_lists_the_events_left_out_and_the_batch_counts_them(admin_client):
    _add("big", BIGGEST, count=1026)
    _add("small", 3)
    events_process_pending()

    left_out = admin_client.get("/admin/ingestion/event/?out_of_range__exact=1")
    batches = admin_client.get("/admin/ingestion/batch/")

    assert left_out.status_code == 200
    assert left_out.context["cl"].result_count == 2
    assert batches.status_code == 200
    assert list(batches.context["cl"].result_list.values_list("out_of_range", flat=True)) == [2]
