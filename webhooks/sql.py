"""The webhooks domain's SQL, one named function per statement, each with its why.

The work engine reads and claims through the ORM (``SELECT ... FOR UPDATE SKIP LOCKED`` is the
ORM's own ``select_for_update(skip_locked=True)``); only the submit path, which every
``POST /webhook`` takes, is written by hand here.
"""

import orjson
from django.db import connection

from webhooks.models import CollectionRequest, FetchState, ProviderFetch

REQUESTS = CollectionRequest._meta.db_table
FETCHES = ProviderFetch._meta.db_table

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
