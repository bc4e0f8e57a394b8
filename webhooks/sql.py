"""The webhooks domain's SQL, one named function per statement, each with its why.

The work engine reads and claims through the ORM (``SELECT ... FOR UPDATE SKIP LOCKED`` is the
ORM's own ``select_for_update(skip_locked=True)``); only the submit path, which every
``POST /webhook`` takes, and the mock providers' settings, read by every call to a mock
provider, are written by hand here.
"""

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


# The request and its fetches in one statement: on PostgreSQL a data-modifying CTE, so one
# round trip in autocommit replaces BEGIN, two INSERTs and COMMIT, and the two rows still
# commit together (one statement is one transaction).
_REQUEST_WITH_FETCHES = f"""
WITH request AS (
    INSERT INTO {REQUESTS}
        (id, providers, callback_url, callback_host, status, deadline_at, created_at,
         finished_at)
    VALUES (%s, %s::jsonb, %s, %s, %s, %s, %s, NULL)
    RETURNING id
)
INSERT INTO {FETCHES}
    (request_id, provider, state, attempts, next_attempt_at, claimed_until, data, fetched_at,
     last_error)
SELECT request.id, p.provider, %s, 0, %s, NULL, NULL, NULL, ''
FROM request, unnest(%s::varchar[]) WITH ORDINALITY AS p(provider, n)
ORDER BY p.n
"""


def request_with_fetches_insert(request: CollectionRequest) -> bool:
    """Insert an unsaved ``request`` and one pending fetch per provider, due at its creation.

    PostgreSQL only (returns False elsewhere, and the caller uses the ORM). The row written is
    the one the ORM would write: ``tests/webhooks/test_sql.py`` compares both.
    """
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            _REQUEST_WITH_FETCHES,
            [
                request.id,
                orjson.dumps(request.providers).decode(),
                request.callback_url,
                request.callback_host,
                request.status,
                request.deadline_at,
                request.created_at,
                FetchState.PENDING,
                request.created_at,
                list(request.providers),
            ],
        )
    request._state.adding = False
    request._state.db = connection.alias
    return True
