"""The webhooks domain's SQL, one named function per statement, each with its why.

The work engine claims in ``webhooks.claims`` and records through ``webhooks.records`` and
``core.sql``'s row writers; only the submit path, which every ``POST /webhook`` takes, and the
mock providers' settings, read by every call to a mock provider, are written by hand here.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from django.db import connection

from webhooks.models import CollectionRequest, FetchState, MockProvider, ProviderFetch

REQUESTS = CollectionRequest._meta.db_table
FETCHES = ProviderFetch._meta.db_table
MOCK_PROVIDERS = MockProvider._meta.db_table

# Read on every call to a mock provider, so that a change made in the admin or through the API
# applies to the next call; plain SQL, because compiling the ORM's query cost more than the
# database's answer (``python -m bench.profile --only mock_provider``).
_MOCK_PROVIDER = (
    f"SELECT failure_rate, outage_until, latency_ms FROM {MOCK_PROVIDERS} WHERE name = %s"
)


def mock_provider_row(*, name: str) -> tuple[float, datetime | None, int] | None:
    """A mock provider's (failure rate, outage end, latency in ms), or None without a row."""
    with connection.cursor() as cursor:
        cursor.execute(_MOCK_PROVIDER, [name])
        row = cursor.fetchone()
    if row is None:
        return None
    failure_rate, outage_until, latency_ms = row
    if outage_until is not None and outage_until.tzinfo is None:  # SQLite: naive, in UTC
        outage_until = outage_until.replace(tzinfo=UTC)
    return float(failure_rate), outage_until, int(latency_ms)


# Requests and their fetches in one statement: on PostgreSQL a data-modifying CTE, so one
# round trip in autocommit replaces BEGIN, two INSERTs per request and COMMIT, and the rows
# still commit together (one statement is one transaction). The requests travel as one JSON
# array of rows (one statement text whatever their number: prepared once per connection);
# fetch ids follow the requests' order, then each request's providers' order.
_REQUESTS_WITH_FETCHES = f"""
WITH given AS (
    SELECT row, n FROM json_array_elements(%s::json) WITH ORDINALITY AS given(row, n)
), request AS (
    INSERT INTO {REQUESTS}
        (id, providers, callback_url, callback_host, status, deadline_at, created_at,
         finished_at)
    SELECT (row ->> 0)::uuid, (row -> 1)::jsonb, row ->> 2, row ->> 3, row ->> 4,
        (row ->> 5)::timestamptz, (row ->> 6)::timestamptz, NULL
    FROM given
    RETURNING id
)
INSERT INTO {FETCHES}
    (request_id, provider, state, attempts, next_attempt_at, claimed_until, data, fetched_at,
     last_error)
SELECT request.id, p.provider, %s, 0, (given.row ->> 6)::timestamptz, NULL, NULL, NULL, ''
FROM given
JOIN request ON request.id = (given.row ->> 0)::uuid
CROSS JOIN LATERAL json_array_elements_text(given.row -> 1) WITH ORDINALITY AS p(provider, m)
ORDER BY given.n, p.m
"""


def _request_row(request: CollectionRequest) -> tuple:
    """An unsaved request's columns in the order ``_REQUESTS_WITH_FETCHES`` reads them."""
    return (
        str(request.id),
        request.providers,
        request.callback_url,
        request.callback_host,
        request.status,
        request.deadline_at,
        request.created_at,
    )


def requests_with_fetches_insert(requests: Sequence[CollectionRequest]) -> bool:
    """Insert unsaved ``requests`` and one pending fetch per provider of each, due at its
    request's creation, in one statement.

    PostgreSQL only (returns False elsewhere, and the caller uses the ORM). The rows written
    are the ones the ORM would write: ``tests/webhooks/test_sql.py`` compares both.
    """
    if connection.vendor != "postgresql":
        return False
    rows = orjson.dumps([_request_row(request) for request in requests]).decode()
    with connection.cursor() as cursor:
        cursor.execute(_REQUESTS_WITH_FETCHES, [rows, FetchState.PENDING])
    for request in requests:
        request._state.adding = False
        request._state.db = connection.alias
    return True


def request_with_fetches_insert(request: CollectionRequest) -> bool:
    """``requests_with_fetches_insert`` for one request."""
    return requests_with_fetches_insert([request])
