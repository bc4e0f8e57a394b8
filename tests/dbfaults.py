"""A real failure inside the database, for tests of what a transaction leaves behind."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_NAME = "tests_refuse_insert"


@contextmanager
def inserts_refused(*, table: str, after_rows: int, message: str) -> Iterator[None]:
    """While open, the database refuses any insert into ``table`` once it holds ``after_rows``
    rows (a trigger raising ``message``), as a full disk or a lost connection would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF (SELECT COUNT(*) FROM {table}) >= {after_rows} THEN "
                f"RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {_NAME} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {_NAME}()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {_NAME} BEFORE INSERT ON {table} "
                f"WHEN (SELECT COUNT(*) FROM {table}) >= {after_rows} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER {_NAME} ON {table}")
                cursor.execute(f"DROP FUNCTION {_NAME}()")
            else:
                cursor.execute(f"DROP TRIGGER {_NAME}")
