"""Everything royalties says to the database in a vendor's own dialect, one function each.

The consolidation's steps call these by name; the business steps read without SQL in between.
"""

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from django.db import connection

from royalties.bulk import bounded_queued_writer
from royalties.models import Run, Subscriber

if TYPE_CHECKING:  # Arrow is imported where a load needs it: web processes never load it.
    import pyarrow

INSERT_CHUNK_ROWS = 5_000

# The run the compat reads serve: the latest succeeded one (the index on status and
# finished_at descending answers it). Plain statements: the ORM's query building and model
# instances cost several times the round trip on these hot reads (docs/performance.md).
_LATEST_SUCCEEDED = (
    f"SELECT id, finished_at FROM {Run._meta.db_table} WHERE status = %s "
    "ORDER BY finished_at DESC, id DESC LIMIT 1"
)
_LATEST_SUCCEEDED_SUBSCRIBER = f"""
SELECT r.id, s.user_id, s.seconds FROM ({_LATEST_SUCCEEDED}) r
LEFT JOIN {Subscriber._meta.db_table} s ON s.run_id = r.id AND s.user_id = %s
"""


def run_latest_succeeded_key() -> tuple[int, Any] | None:
    """(id, finished_at) of the latest succeeded run, or None: one statement."""
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_SUCCEEDED, [Run.Status.SUCCEEDED.value])
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1])


def subscriber_latest_seconds(user_id: str) -> tuple[int, str | None, int | None] | None:
    """(run id, user id, seconds) of one user in the latest succeeded run, in one statement;
    the user's fields are None when the run does not have them, and None when no run has
    succeeded."""
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_SUCCEEDED_SUBSCRIBER, [Run.Status.SUCCEEDED.value, user_id])
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2])


def _quoted(table: str, columns: Sequence[str]) -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(table), ", ".join(quote(column) for column in columns)


def arrow_load(*, table: str, tables: "Iterable[pyarrow.Table]") -> int:
    """Append Arrow tables (column names = the table's columns) to ``table``; return the rows.

    PostgreSQL: one ``COPY ... FROM STDIN (FORMAT binary)``, encoded from Arrow by pgpq. The
    binary format spares the server parsing text (dates, bigints), the costliest part of a
    text ``COPY`` after the primary key; a writer thread sends one buffer while this thread
    reads and checks the next block, so the client's work and the server's overlap (the queue
    is bounded: memory stays flat whichever side is slower).
    Elsewhere (SQLite): ``executemany`` in chunks of Python values.
    """
    if connection.vendor == "postgresql":
        return _arrow_copy(table=table, tables=tables)
    return _arrow_insert(table=table, tables=tables)


def _arrow_copy(*, table: str, tables: "Iterable[pyarrow.Table]") -> int:
    from pgpq import ArrowToPostgresBinaryEncoder

    parts = iter(tables)
    first = next(parts, None)
    if first is None:
        return 0
    encoder = ArrowToPostgresBinaryEncoder(first.schema)
    name, columns = _quoted(table, first.column_names)
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        sql = f"COPY {name} ({columns}) FROM STDIN (FORMAT binary)"
        with raw.copy(sql, writer=bounded_queued_writer(raw)) as copy:
            copy.write(encoder.write_header())
            for part in chain([first], parts):
                for batch in part.to_batches():
                    copy.write(encoder.write_batch(batch))
                count += part.num_rows
            copy.write(encoder.finish())
    return count


def _python_rows(part: "pyarrow.Table") -> list[tuple[Any, ...]]:
    import pyarrow

    columns = []
    for column in part.columns:
        if pyarrow.types.is_date(column.type):
            column = column.cast(pyarrow.string())  # ISO text, as Django stores dates in SQLite
        columns.append(column.to_pylist())
    return list(zip(*columns, strict=True))


def _arrow_insert(*, table: str, tables: "Iterable[pyarrow.Table]") -> int:
    import pyarrow

    count = 0
    with connection.cursor() as cursor:
        for part in tables:
            name, columns = _quoted(table, part.column_names)
            placeholders = ", ".join(["%s"] * part.num_columns)
            sql = f"INSERT INTO {name} ({columns}) VALUES ({placeholders})"
            for batch in part.to_batches(max_chunksize=INSERT_CHUNK_ROWS):
                cursor.executemany(sql, _python_rows(pyarrow.Table.from_batches([batch])))
            count += part.num_rows
    return count
