"""The platform's own SQL, one named function per statement (or per shared step), each with
its why.

Every statement runs unchanged on PostgreSQL and SQLite (the increment's transaction differs),
but the row writers' (``rows_update``, ``rows_insert``): on PostgreSQL one statement over the
rows sent as one JSON text, elsewhere the per-row statement or the ORM's bulk insert.
"""

import json
import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
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


def rows_update(
    objects: Sequence[Any], fields: Sequence[str], *, model: type[models.Model] | None = None
) -> None:
    """Write ``fields`` of each object, by primary key, in one statement.

    ``objects`` are instances of ``model`` (by default the first object's class), or plain
    records with the same attribute names (``pk`` and the fields' attnames).

    PostgreSQL, when every field is of a kind in ``_JSON_CASTS``: one ``UPDATE ... FROM
    json_array_elements`` of the rows, sent as one JSON text. Preparing each value as a save
    does (``get_db_prep_save``) and pipelining one ``UPDATE`` per row cost a drain's recorder
    about 25 us of CPU per row; the JSON rows cost about 3. Elsewhere (and for other kinds of
    field): one ``UPDATE`` sent with ``executemany`` (psycopg pipelines it: one round trip for
    the batch), values prepared as a save prepares them. Django's ``bulk_update`` builds a
    ``CASE`` per field over every object, whose compilation cost grows with fields x objects."""
    if not objects:
        return
    meta = (model or type(objects[0]))._meta
    by_name = {field.name: field for field in meta.concrete_fields}
    columns = [by_name[name] for name in fields]  # KeyError: not a concrete field
    pk = meta.pk
    if pk is None:
        raise TypeError(f"{meta.label} has no primary key")
    if connection.vendor == "postgresql" and all(_json_cast(f) for f in [pk, *columns]):
        _rows_update_json(objects, meta.db_table, pk, columns)
        return
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


def rows_insert(objects: Sequence[models.Model]) -> None:
    """Insert unsaved ``objects`` of one model (their primary keys are not read back).

    PostgreSQL, when every column is of a kind in ``_JSON_CASTS``: one ``INSERT ... SELECT``
    from the rows sent as one JSON text (the ORM's ``bulk_create`` prepared every field of
    every row in Python: about 20 us of a drain's CPU per delivery row, 2 this way).
    Elsewhere, and for other kinds of field, ``bulk_create``. Both write the same rows
    (``tests/core/test_sql.py``)."""
    if not objects:
        return
    model = type(objects[0])
    meta = model._meta
    columns = [f for f in meta.concrete_fields if not (f.primary_key and f.db_returning)]
    if connection.vendor != "postgresql" or not all(_json_cast(f) for f in columns):
        model._default_manager.bulk_create(objects)
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(_column(field)) for field in columns)
    values = ", ".join(
        f"(row ->> {index})::{_json_cast(field)}" for index, field in enumerate(columns)
    )
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({names}) "
        f"SELECT {values} FROM json_array_elements(%s::json) AS given(row)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_json_rows(objects, columns, add=True)])


# The kinds of field whose Python values orjson writes as PostgreSQL reads them back through a
# cast from text (aware datetimes as RFC 3339, UUIDs, str enums by value); JSON is dumped by the
# field's own encoder, as a save dumps it, and travels as a string.
_JSON_CASTS: tuple[type[models.Field[Any, Any]], ...] = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.DateTimeField,
    models.UUIDField,
    models.BooleanField,
    models.JSONField,
    models.AutoField,
    models.BigAutoField,
    models.ForeignKey,
)


def _json_cast(field: "models.Field[Any, Any]") -> str | None:
    """The type ``field``'s column is cast to from the JSON rows' text, or None."""
    if not isinstance(field, _JSON_CASTS):
        return None
    if isinstance(field, models.ForeignKey):
        return _json_cast(field.target_field)
    if isinstance(field, models.CharField | models.TextField):
        # Not varchar(n): an explicit cast to it truncates silently, where assigning text to
        # the column refuses an over-long value as any save would.
        return "text"
    return str(field.cast_db_type(connection))


def _json_rows(
    objects: Sequence[Any],
    fields: "Sequence[models.Field[Any, Any]]",
    *,
    add: bool,
    pk: bool = False,
) -> str:
    """The JSON text of ``objects``' values of ``fields`` (after each one's ``pk`` if ``pk``),
    one array per object: each value as its attribute holds it (one ``attrgetter``), but for a
    field whose save computes it (``auto_now``: ``pre_save``) and a JSON field's, dumped by
    its own encoder as a save dumps it."""
    names = ["pk"] if pk else []
    names += [field.attname for field in fields]
    values = operator.attrgetter(*names)
    shift = len(names) - len(fields)
    computed = [(i + shift, f) for i, f in enumerate(fields) if getattr(f, "auto_now", False)
                or (add and getattr(f, "auto_now_add", False))]  # fmt: skip
    dumped = [
        (i + shift, f.encoder) for i, f in enumerate(fields) if isinstance(f, models.JSONField)
    ]
    rows = []
    for obj in objects:
        row = list(values(obj)) if len(names) > 1 else [values(obj)]
        for index, field in computed:
            row[index] = field.pre_save(obj, add)
        for index, encoder in dumped:
            if row[index] is not None:
                row[index] = json.dumps(row[index], cls=encoder)
        rows.append(row)
    return orjson.dumps(rows).decode()


def _rows_update_json(
    objects: Sequence[Any],
    table: str,
    pk: "models.Field[Any, Any]",
    columns: "list[models.Field[Any, Any]]",
) -> None:
    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(_column(field))} = (row ->> {index})::{_json_cast(field)}"
        for index, field in enumerate(columns, start=1)
    )
    sql = (
        f"UPDATE {quote(table)} AS target SET {assignments} "
        "FROM json_array_elements(%s::json) AS given(row) "
        f"WHERE target.{quote(_column(pk))} = (row ->> 0)::{_json_cast(pk)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_json_rows(objects, columns, add=False, pk=True)])


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
    with ``Model.from_db``; ``values(row)`` gives the converted values only (for a loader of
    some of the fields, named when it is made). On a hot statement a raw queryset's column
    mapping costs about as much as the round trip (docs/performance.md); this costs a loop over
    the converted columns.
    """

    def __init__(self, model: type[M], fields: Sequence[str] | None = None) -> None:
        """``fields``: the names of the fields ``values`` reads (all concrete fields if None;
        ``load`` needs them all)."""
        self.model = model
        concrete = list(model._meta.concrete_fields)
        by_name = {field.name: field for field in concrete}
        self.fields = concrete if fields is None else [by_name[name] for name in fields]
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
                column = field.get_col(table)  # an FK: its target's converters
                found = connection.ops.get_db_converters(column)
                found += column.get_db_converters(connection)
                if found:
                    converters.append((index, column, found))
            self._converters[connection.vendor] = converters
        return converters

    def values(self, row: Sequence[Any]) -> list[Any]:
        """The first ``len(self.fields)`` columns of ``row`` as the fields' Python values."""
        values = list(row[: len(self.fields)])
        for index, column, functions in self._converters_get():
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        return values

    def load(self, row: Sequence[Any]) -> M:
        return self.model.from_db(connection.alias, self.attnames, self.values(row))
