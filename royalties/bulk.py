"""Loading many rows into a table fast: ``COPY`` on PostgreSQL, chunked ``executemany`` elsewhere.

Both paths take rows from an iterator and hold at most one chunk in memory, so loading a
streaming log of any length keeps memory flat. They run on the current connection, inside the
caller's transaction.
"""

from collections.abc import Iterable, Sequence
from itertools import islice

from django.db import connection

CHUNK_ROWS = 5_000


def rows_insert(*, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; return how many."""
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(column) for column in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Text COPY: the server parses every value with the column's own type.
            sql = f"COPY {quote(table)} ({column_list}) FROM STDIN"
            with cursor.copy(sql) as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quote(table)} ({column_list}) VALUES ({placeholders})"
        iterator = iter(rows)
        while chunk := list(islice(iterator, CHUNK_ROWS)):
            cursor.executemany(sql, chunk)
            count += len(chunk)
    return count
