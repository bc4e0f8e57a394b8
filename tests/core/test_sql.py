"""core.sql.rows_update: each object's fields written by primary key, values prepared as a save
prepares them (JSON, datetimes, nulls), on both databases; core.sql.RowLoader: instances from
a plain cursor's rows equal to the ORM's."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from core.sql import RowLoader, rows_update
from streams.models import StreamSession
from tests.streams.factories import ViewerFactory
from tests.webhooks.factories import collection_make
from webhooks.models import FetchState, ProviderFetch

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_rows_update_writes_only_the_named_fields_of_each_row(django_assert_num_queries):
    collection_make()
    gas, internet = ProviderFetch.objects.order_by("provider")
    gas.state, gas.data, gas.fetched_at, gas.next_attempt_at = (
        FetchState.FETCHED, {"bill": [1.5, "é", None]}, AT, None,
    )  # fmt: skip
    gas.attempts = 2
    internet.state, internet.next_attempt_at, internet.last_error = FetchState.PENDING, AT, "x"
    internet.attempts = 7
    internet.provider = "not written"  # not among the fields

    with django_assert_num_queries(1):
        rows_update([gas, internet], ["state", "data", "fetched_at", "next_attempt_at", "attempts"])

    stored = {f.pk: f for f in ProviderFetch.objects.all()}
    assert (stored[gas.pk].state, stored[gas.pk].data) == ("fetched", {"bill": [1.5, "é", None]})
    assert (stored[gas.pk].fetched_at, stored[gas.pk].next_attempt_at) == (AT, None)
    assert stored[gas.pk].attempts == 2
    assert (stored[internet.pk].next_attempt_at, stored[internet.pk].attempts) == (AT, 7)
    assert (stored[internet.pk].provider, stored[internet.pk].last_error) == ("internet", "")


def test_rows_update_of_nothing_sends_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        rows_update([], ["state"])


def test_rows_update_refuses_a_field_that_is_not_a_column():
    collection_make()
    fetch = ProviderFetch.objects.first()
    assert fetch is not None
    with pytest.raises(KeyError):
        rows_update([fetch], ["attempt_rows"])


def test_row_loader_builds_what_the_orm_loads():
    viewer = ViewerFactory.create(user_id="alice")
    StreamSession.objects.create(
        viewer=viewer, device_id="tv", content_id=None, started_at=AT, last_heartbeat=AT,
        expires_at=datetime(2026, 3, 1, 12, 31, 15, tzinfo=UTC), ended_at=AT, end_reason="stopped",
    )  # fmt: skip
    loader = RowLoader(StreamSession)
    table = StreamSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {loader.columns('s')}, 'extra' FROM {table} s")
        row = cursor.fetchone()

    loaded = loader.load(row)
    expected = StreamSession.objects.get()
    assert [getattr(loaded, name) for name in loader.attnames] == [
        getattr(expected, name) for name in loader.attnames
    ]
    assert loaded.started_at == AT
    assert loaded.content_id is None
    assert loaded._state.adding is False
    assert row[-1] == "extra"
