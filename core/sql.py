"""The platform's own SQL, one named function per statement (or per shared step), each with
its why.

Every statement runs unchanged on PostgreSQL and SQLite (the increment's transaction differs).
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models.expressions import Col

# The conflict on the unique (key, window_start) turns the insert into an increment, atomically
# (SQLite >= 3.35 for RETURNING). Django's database cache ``incr`` is a read-then-write.
# Shared with statements that count a request as one of their steps (analytics.admission).
COUNTER_INSERT = "INSERT INTO core_ratelimitcounter (key, window_start, count, expires_at)"
COUNTER_ON_CONFLICT = (
    "ON CONFLICT (key, window_start) DO UPDATE SET count = core_ratelimitcounter.count + 1 "
    "RETURNING count"
)
_COUNTER_INCREMENT = f"{COUNTER_INSERT} VALUES (%s, %s, 1, %s) {COUNTER_ON_CONFLICT}"


def ratelimit_counter_increment(*, key: str, window_start: int, expires_at: datetime) -> int:
    """Count one request for ``key`` in the window starting at ``window_start``; the new count.

    PostgreSQL: the statement alone in autocommit (one statement is one transaction: one round
    trip, no BEGIN/COMMIT), on an UNLOGGED table (decision 0060). SQLite: in a transaction.
    """
    params: list[str | int | datetime] = [key, window_start, expires_at]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_COUNTER_INCREMENT, params)
            row = cursor.fetchone()
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_COUNTER_INCREMENT, params)
            row = cursor.fetchone()
    return int(row[0])


def database_ping() -> None:
    """One round trip to the database; raises whatever the driver raises when it is down."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def event_range_claim(
    cursor: CursorWrapper, *, table: str, writer_lock: int, after: int, limit: int
) -> int | None:
    """The last id of the next range of at most ``limit`` events of ``table`` after ``after``
    that a processor may fold, or None when there is none (docs/decisions/0022).

    Reads MAX(id), then, on PostgreSQL, takes the writers' advisory lock ``writer_lock``
    exclusively for an instant: every insert holds it shared from before the sequence hands out
    its id, so every id up to that MAX then belongs to a finished transaction and no event can
    appear later below the range (SQLite's IMMEDIATE transactions already serialise writers).
    Ids have gaps, so the range is capped at the ``limit``-th id after ``after``.
    """
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    (upto,) = cursor.fetchone()
    if connection.vendor == "postgresql":
        cursor.execute(
            f"SELECT pg_advisory_unlock({writer_lock}) "
            f"FROM (SELECT pg_advisory_lock({writer_lock})) AS writers_drained"
        )
    upto = int(upto)
    if upto - after > limit:
        # More ids than the limit could lie in the range: find the limit-th (an index scan
        # over ``limit`` entries: 0.1 s for 1,000,000, so skipped when the range cannot hold
        # more than the limit, ids being distinct integers).
        cursor.execute(
            f"SELECT id FROM {table} WHERE id > %s ORDER BY id LIMIT 1 OFFSET %s",
            [after, limit - 1],
        )
        nth = cursor.fetchone()
        if nth is not None:
            upto = min(upto, int(nth[0]))
    return upto if upto > after else None


def rows_update(objects: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of each object, by primary key: one ``UPDATE`` sent with
    ``executemany`` (psycopg pipelines it: one round trip for the batch). Django's
    ``bulk_update`` builds a ``CASE`` per field over every object, whose compilation cost grows
    with fields x objects; the values here are prepared by the fields themselves, as a save
    prepares them."""
    if not objects:
        return
    meta = type(objects[0])._meta
    by_name = {field.name: field for field in meta.concrete_fields}
    columns = [by_name[name] for name in fields]  # KeyError: not a concrete field
    pk = meta.pk
    if pk is None:
        raise TypeError(f"{meta.label} has no primary key")
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(_column(field))} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(_column(pk))} = %s"
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
        + [pk.get_db_prep_save(obj.pk, connection)]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _column(field: "models.Field[object, object]") -> str:
    if field.column is None:
        raise TypeError(f"{field} has no column")
    return field.column


_Converter = Callable[[Any, Any, Any], Any]


class RowLoader[M: models.Model]:
    """Model instances from a plain cursor's rows, as the ORM would load them.

    A statement selects ``columns(alias)`` first (the model's concrete fields, in their order),
    then anything else; ``load(row)`` applies the database's and the fields' converters to
    those columns (SQLite returns datetimes as text, UUIDs as hex) and builds the instance
    with ``Model.from_db``. On a hot statement a raw queryset's column mapping costs about as
    much as the round trip (docs/performance.md); this costs a loop over the converted columns.
    """

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self._converters: dict[str, list[tuple[int, Col, list[_Converter]]]] = {}

    def columns(self, alias: str = "") -> str:
        """The model's columns in ``load``'s order, qualified by ``alias`` if given."""
        prefix = f"{alias}." if alias else ""
        quote = connection.ops.quote_name
        return ", ".join(f"{prefix}{quote(str(field.column))}" for field in self.fields)

    def _converters_get(self) -> list[tuple[int, Col, list[_Converter]]]:
        converters = self._converters.get(connection.vendor)
        if converters is None:
            table = self.model._meta.db_table
            converters = []
            for index, field in enumerate(self.fields):
                column = Col(table, field)
                found = connection.ops.get_db_converters(column)
                found += column.get_db_converters(connection)
                if found:
                    converters.append((index, column, found))
            self._converters[connection.vendor] = converters
        return converters

    def load(self, row: Sequence[Any]) -> M:
        values = list(row[: len(self.fields)])
        for index, column, functions in self._converters_get():
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)
