"""Loading many rows into a table fast: ``COPY`` on PostgreSQL, chunked ``executemany`` elsewhere.

Both paths take rows from an iterator and hold at most one chunk in memory, so loading a
streaming log of any length keeps memory flat. They run on the current connection, inside the
caller's transaction. On PostgreSQL the chunk is written by the C ``csv`` writer and sent as
``COPY ... (FORMAT csv)``: quoting is exact for any value, and ``None`` (unquoted empty field)
is the only thing read back as NULL because every other value is quoted when it could be empty.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from itertools import islice

from django.db import connection

CHUNK_ROWS = 5_000
COPY_CHUNK_ROWS = 20_000


def copy_lines(*, table: str, columns: Sequence[str], lines: Iterable[str]) -> int:
    """PostgreSQL only: ``COPY`` lines already in COPY's text format (tab-separated,
    backslash-escaped, newline-terminated) into ``table``; return how many.

    A writer thread sends each chunk while this thread prepares the next one, so parsing in
    Python and loading in the server overlap.
    """
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(column) for column in columns)
    sql = f"COPY {quote(table)} ({column_list}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(sql, writer=bounded_queued_writer(raw)) as copy:
            iterator = iter(lines)
            while chunk := list(islice(iterator, COPY_CHUNK_ROWS)):
                copy.write("".join(chunk))
                count += len(chunk)
    return count


# psycopg's queued writer holds up to 1024 buffers of 128 KiB: when the server is the slower
# side, that is up to 128 MiB more memory, growing with the rows. A few buffers keep the
# overlap and bound the memory.
COPY_QUEUE_BUFFERS = 16


def bounded_queued_writer(cursor):
    """psycopg's ``QueuedLibpqWriter`` (a thread sends while this one formats) with a short
    queue."""
    from queue import Queue

    from psycopg.copy import QueuedLibpqWriter

    writer = QueuedLibpqWriter(cursor)
    writer._queue = Queue(maxsize=COPY_QUEUE_BUFFERS)
    return writer


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(value: str) -> str:
    """A value in COPY's text format."""
    return value.translate(_COPY_ESCAPES)


def rows_insert(
    *, table: str, columns: Sequence[str], rows: Iterable[Sequence], may_be_empty: bool = True
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; return how many.

    ``may_be_empty=False`` promises that no string value is empty (it lets the COPY stream skip
    quoting, which is cheaper for the streaming log).
    """
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(column) for column in columns)
    iterator = iter(rows)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {quote(table)} ({column_list}) FROM STDIN WITH (FORMAT csv)"
            buffer = io.StringIO()
            writer = csv.writer(
                buffer,
                lineterminator="\n",
                quoting=csv.QUOTE_NOTNULL if may_be_empty else csv.QUOTE_MINIMAL,
            )
            with cursor.copy(sql) as copy:
                while chunk := list(islice(iterator, COPY_CHUNK_ROWS)):
                    writer.writerows(chunk)
                    copy.write(buffer.getvalue())
                    buffer.seek(0)
                    buffer.truncate()
                    count += len(chunk)
            return count
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quote(table)} ({column_list}) VALUES ({placeholders})"
        while chunk := list(islice(iterator, CHUNK_ROWS)):
            cursor.executemany(sql, chunk)
            count += len(chunk)
    return count
