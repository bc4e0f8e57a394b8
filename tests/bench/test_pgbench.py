"""PostgreSQL's own ceilings (``bench.pgbench``): the analytics batch's reference COPYs the rows
collect stores for the bench's batch, and runs against a real server."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection

from analytics.copy_rows import INSERT_COLUMNS
from analytics.plain_batch import plain_rows
from bench.harness import Harness
from bench.pgbench import copy_ceiling
from bench.scenarios import analytics_http


def test_the_reference_copies_the_rows_collect_stores_for_the_bench_batch():
    body = json.dumps(
        [
            {"event": f"event{i % 20}", "userId": f"user{i}", "device": "desktop"}
            for i in range(analytics_http.BATCH_EVENTS)
        ]
    ).encode()
    stamp = datetime(2026, 12, 7, 12, 0, 0, 250_000, tzinfo=UTC)
    rows = plain_rows(body, client_ip="127.0.0.1", now=stamp)
    assert rows is not None
    stored = rows.copy_text(app="00000000-0000-4000-8000-000000000001", received=stamp.isoformat())
    assert stored.decode() == analytics_http._copy_rows()


@pytest.mark.postgres_only
def test_the_copy_ceiling_copies_from_a_file_the_server_reads(test_database_url):
    h = Harness(database_url=test_database_url, duration_s=1)
    figures = copy_ceiling(
        h,
        table="analytics_event",
        columns=INSERT_COLUMNS,
        text=analytics_http._copy_rows(),
        rows=analytics_http.BATCH_EVENTS,
        connections=2,
    )
    if figures.get("skipped"):
        pytest.skip(figures["skipped"])
    assert figures["copies_per_s"] > 0
    assert figures["rows_per_s"] == round(figures["copies_per_s"] * 1000)
    assert figures["connections"] == 2
    with connection.cursor() as cursor:  # the scratch table is gone
        cursor.execute("SELECT to_regclass('bench_probe_analytics_event')")
        assert cursor.fetchone() == (None,)
