"""core.sql.rows_update: each object's fields written by primary key, values prepared as a save
prepares them (JSON, datetimes, nulls), on both databases; core.sql.RowLoader: instances from
a plain cursor's rows equal to the ORM's."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from core.sql import RowLoader, rows_insert, rows_update
from streams.models import StreamSession
from tests.streams.factories import ViewerFactory
from tests.webhooks.factories import collection_make
from webhooks.models import Delivery, FetchState, ProviderFetch

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


def _fetch_values() -> dict:
    return {
        f.pk: (f.state, f.data, f.fetched_at, f.next_attempt_at, f.attempts, f.last_error)
        for f in ProviderFetch.objects.all()
    }


def _fetches_changed() -> list[ProviderFetch]:
    gas, internet = ProviderFetch.objects.order_by("provider")
    gas.state, gas.data, gas.fetched_at = FetchState.FETCHED, {"n": [1.5, "é «»", None, {}]}, AT
    gas.next_attempt_at, gas.last_error = None, 'quote " and \\ backslash'
    internet.data, internet.attempts, internet.next_attempt_at = "a JSON string", 3, AT
    return [gas, internet]


FIELDS = ["state", "data", "fetched_at", "next_attempt_at", "attempts", "last_error"]


@pytest.mark.postgres_only
def test_rows_update_in_one_json_statement_writes_what_each_rows_update_writes(monkeypatch):
    collection_make()
    rows_update(_fetches_changed(), FIELDS)  # PostgreSQL: the JSON rows
    by_json = _fetch_values()
    ProviderFetch.objects.update(
        state="pending", data=None, fetched_at=None, next_attempt_at=AT, attempts=0, last_error=""
    )
    monkeypatch.setattr(connection, "vendor", "other")  # one UPDATE per row, as a save
    rows_update(_fetches_changed(), FIELDS)
    monkeypatch.undo()

    assert by_json == _fetch_values()
    assert sorted((v[1] for v in by_json.values()), key=str) == [
        "a JSON string",
        {"n": [1.5, "é «»", None, {}]},
    ]


@pytest.mark.postgres_only
def test_rows_update_refuses_an_over_long_value_rather_than_cut_it():
    from django.db import DataError, transaction

    collection_make()
    fetch = ProviderFetch.objects.first()
    assert fetch is not None
    fetch.last_error = "x" * 501  # a varchar(500)
    with pytest.raises(DataError), transaction.atomic():
        rows_update([fetch], ["last_error"])


def test_rows_update_writes_a_plain_record_by_the_models_fields():
    @dataclass
    class Record:
        pk: int
        attempts: int
        next_attempt_at: datetime | None

    collection_make()
    fetch = ProviderFetch.objects.first()
    assert fetch is not None
    rows_update([Record(fetch.pk, 9, AT)], ["attempts", "next_attempt_at"], model=ProviderFetch)
    fetch.refresh_from_db()
    assert (fetch.attempts, fetch.next_attempt_at, fetch.state) == (9, AT, "pending")


def _deliveries(request_ids: list, *, prefix: str) -> list[Delivery]:
    return [
        Delivery(request_id=request_id, webhook_id=f"msg_{prefix}{index}", body='{"a":"é"}',
                 next_attempt_at=AT, window_ends_at=AT, created_at=AT)
        for index, request_id in enumerate(request_ids)
    ]  # fmt: skip


def test_rows_insert_writes_the_rows_bulk_create_writes(monkeypatch):
    first, second = collection_make(), collection_make()
    rows_insert(_deliveries([first.pk], prefix="json"))  # PostgreSQL: one INSERT of the JSON rows
    monkeypatch.setattr(connection, "vendor", "other")
    rows_insert(_deliveries([second.pk], prefix="orm"))
    monkeypatch.undo()
    rows_insert([])

    def stored(request_id) -> dict:
        delivery = Delivery.objects.get(request_id=request_id)
        return {k: v for k, v in model_to_dict(delivery).items() if k not in ("id", "request")}

    by_json = stored(first.pk)
    expected = {**stored(second.pk), "webhook_id": "msg_json0"}
    assert by_json == expected
    assert (by_json["state"], by_json["attempts"], by_json["last_response"]) == ("pending", 0, "")
    assert (by_json["body"], by_json["delivered_at"], by_json["created_at"]) == (
        '{"a":"é"}', None, AT,
    )  # fmt: skip


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


@pytest.mark.parametrize(
    ("after", "limit", "expected"),
    [
        (0, 10, 40),  # no 10th id: the cap does not bind
        (0, 40, 40),  # (0, 40] holds 40 ids at most: the 40th is not looked for
        (0, 3, 30),  # the 3rd id after 0
        (10, 2, 30),  # ids 20 and 30
        (30, 1, 40),
        (40, 5, None),  # nothing after the last id
    ],
)
def test_a_claim_ends_at_the_last_id_or_the_limit_th_id_whatever_the_gaps(
    after, limit, expected, django_assert_num_queries
):
    """core.sql.event_range_claim over ids 10, 20, 30, 40 (gaps, as rollbacks leave them)."""
    from django.utils import timezone

    from core.sql import event_range_claim
    from ingestion import sql as ingestion_sql
    from ingestion.models import Event

    for event_id in (10, 20, 30, 40):
        Event.objects.create(
            id=event_id, user_id="u", name="add_revenue", value=1, amount=1, credential="c",
            received_at=timezone.now(),
        )  # fmt: skip
    # MAX(id), the writers' drain on PostgreSQL, and the limit-th id only when it could bind.
    statements = 1 + (connection.vendor == "postgresql") + (40 - after > limit)
    with django_assert_num_queries(statements), connection.cursor() as cursor:
        upto = event_range_claim(
            cursor, table=ingestion_sql.EVENTS, writer_lock=ingestion_sql.WRITER_LOCK,
            after=after, limit=limit,
        )  # fmt: skip
    assert upto == expected
