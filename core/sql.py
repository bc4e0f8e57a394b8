"""The platform's own SQL, one named function per statement, each with its why.

Both statements run unchanged on PostgreSQL and SQLite (the increment's transaction differs).
"""

from datetime import datetime

from django.db import connection, transaction

# The conflict on the unique (key, window_start) turns the insert into an increment, atomically
# (SQLite >= 3.35 for RETURNING). Django's database cache ``incr`` is a read-then-write.
_COUNTER_INCREMENT = """
    INSERT INTO core_ratelimitcounter (key, window_start, count, expires_at)
    VALUES (%s, %s, 1, %s)
    ON CONFLICT (key, window_start) DO UPDATE SET count = core_ratelimitcounter.count + 1
    RETURNING count
"""


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
