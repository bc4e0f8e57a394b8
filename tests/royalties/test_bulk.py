"""The bulk loader's own guarantees."""

import threading
import time

import psycopg
import pytest
from django.db import connection

from royalties.bulk import COPY_QUEUE_BUFFERS, bounded_queued_writer

GATE_LOCK = 7_324_009_001
CHUNK = b"x" * (128 * 1024 - 1) + b"\n"  # psycopg's largest single queued buffer
CHUNKS = 400  # 50 MB: what psycopg's default 1024-buffer queue would take without blocking


def _stalled_count(written: list[int], *, quiet_seconds: float = 1.0) -> int:
    """How many writes returned once the count stopped growing for ``quiet_seconds``."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet_seconds:
        time.sleep(0.05)
        if len(written) != last:
            last, since = len(written), time.monotonic()
    return last


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_copy_writer_stops_taking_buffers_while_the_server_does_not_read():
    """While the server does not read (a statement trigger waits on a lock another connection
    holds), the writer takes its bounded queue's worth plus what the sockets hold, then
    blocks; once the server reads again every row arrives."""
    conf = connection.settings_dict
    gate = psycopg.connect(
        host=conf["HOST"] or "127.0.0.1",
        port=conf["PORT"] or 5432,
        user=conf["USER"] or "postgres",
        dbname=conf["NAME"],
        autocommit=True,
    )
    gate.execute("SELECT pg_advisory_lock(%s)", [GATE_LOCK])
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_sink (line text)")
        cursor.execute(
            "CREATE FUNCTION pg_temp.wait_for_gate() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN PERFORM pg_advisory_xact_lock_shared({GATE_LOCK}); RETURN NULL; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER gate BEFORE INSERT ON copy_sink "
            "FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.wait_for_gate()"
        )
        raw = cursor.cursor
        written: list[int] = []

        def feed() -> None:
            writer = bounded_queued_writer(raw)
            with raw.copy("COPY copy_sink (line) FROM STDIN", writer=writer) as copy:
                for n in range(CHUNKS):
                    copy.write(CHUNK)
                    written.append(n)

        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            stalled = _stalled_count(written)
        finally:
            gate.execute("SELECT pg_advisory_unlock(%s)", [GATE_LOCK])
            gate.close()
            feeder.join(timeout=60)
        # 16 queued, one in the sender's hands, the rest in the sockets (40 seen on loopback).
        assert COPY_QUEUE_BUFFERS == 16
        assert COPY_QUEUE_BUFFERS <= stalled < CHUNKS // 4
        assert not feeder.is_alive()
        assert len(written) == CHUNKS
        cursor.execute("SELECT COUNT(*), MIN(LENGTH(line)) FROM copy_sink")
        assert cursor.fetchone() == (CHUNKS, len(CHUNK) - 1)
