"""The rows a recorder locks and moves on, as plain records rather than model instances.

A drain records every outcome of a pass in a few statements (``webhooks.recording``), and most
of its CPU went into the ORM around them: compiling ``pk__in`` lists of a hundred values and
building model instances cost about 18 us per locked row, where a plain statement and the
fields' own converters cost about 3 (``bench/budget.md``). A record holds the columns the
recorders read and write, under the model's attribute names, so ``core.sql.rows_update``
writes it as it writes an instance.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models

from core.sql import RowLoader
from webhooks.models import CollectionRequest, Delivery, ProviderFetch


@dataclass(slots=True)
class RequestRecord:
    pk: uuid.UUID
    providers: list[str]
    status: str
    deadline_at: datetime
    finished_at: datetime | None


@dataclass(slots=True)
class FetchRecord:
    pk: int
    request_id: uuid.UUID
    provider: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_until: datetime | None
    data: Any
    fetched_at: datetime | None
    last_error: str


@dataclass(slots=True)
class DeliveryRecord:
    pk: int
    request_id: uuid.UUID
    state: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_until: datetime | None
    window_ends_at: datetime
    last_status_code: int | None
    last_response: str
    delivered_at: datetime | None


# Each loader reads its record's fields, in the record's order (the primary key first).
_REQUESTS = RowLoader(
    CollectionRequest, ["id", "providers", "status", "deadline_at", "finished_at"]
)
_FETCHES = RowLoader(
    ProviderFetch,
    ["id", "request", "provider", "state", "attempts", "next_attempt_at", "claimed_until",
     "data", "fetched_at", "last_error"],
)  # fmt: skip
_DELIVERIES = RowLoader(
    Delivery,
    ["id", "request", "state", "attempts", "next_attempt_at", "claimed_until", "window_ends_at",
     "last_status_code", "last_response", "delivered_at"],
)  # fmt: skip


def _read(
    loader: RowLoader[Any], *, field: str, values: Iterable[Any], lock: bool
) -> list[list[Any]]:
    """The rows of ``loader``'s table whose ``field`` (its name) holds one of ``values``, in
    primary-key order, locked (``FOR UPDATE``) if ``lock`` where the database locks rows
    (SQLite's ``BEGIN IMMEDIATE`` has locked the whole database already)."""
    wanted = sorted(set(values))
    if not wanted:
        return []
    meta: Any = loader.model._meta
    by: models.Field[Any, Any] = meta.get_field(field)
    quote = connection.ops.quote_name
    locking = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    marks = ", ".join(["%s"] * len(wanted))
    sql = (
        f"SELECT {loader.columns()} FROM {quote(meta.db_table)} "
        f"WHERE {quote(str(by.column))} IN ({marks}) ORDER BY {quote(meta.pk.column)}{locking}"
    )
    params = [by.get_db_prep_value(value, connection) for value in wanted]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [loader.values(row) for row in cursor.fetchall()]


def requests_locked(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, RequestRecord]:
    """Requests by primary key, locked in key order (every recorder locks requests, then their
    fetches or deliveries, in that order: no two passes deadlock)."""
    rows = _read(_REQUESTS, field="id", values=ids, lock=True)
    return {record.pk: record for record in (RequestRecord(*row) for row in rows)}


def fetches_locked(ids: Iterable[int]) -> dict[int, FetchRecord]:
    rows = _read(_FETCHES, field="id", values=ids, lock=True)
    return {record.pk: record for record in (FetchRecord(*row) for row in rows)}


def deliveries_locked(ids: Iterable[int]) -> dict[int, DeliveryRecord]:
    rows = _read(_DELIVERIES, field="id", values=ids, lock=True)
    return {record.pk: record for record in (DeliveryRecord(*row) for row in rows)}


def fetches_of(request_ids: Iterable[uuid.UUID]) -> list[FetchRecord]:
    """Every fetch of the (locked) requests of ``request_ids``."""
    rows = _read(_FETCHES, field="request", values=request_ids, lock=False)
    return [FetchRecord(*row) for row in rows]
