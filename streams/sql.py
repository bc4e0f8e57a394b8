"""The streams domain's vendor-specific SQL, behind named functions.

Each function runs one statement (in autocommit unless its docstring says otherwise); the
services decide what its answer means.
"""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from django.db import connection

from core.sql import RowLoader
from streams.models import EndReason, RefusalHour, StreamSession, Viewer

SESSIONS = StreamSession._meta.db_table
VIEWERS = Viewer._meta.db_table
REFUSAL_HOURS = RefusalHour._meta.db_table
SESSION_ROWS = RowLoader(StreamSession)

# One statement (autocommit): lock the session's viewer, read the clock after the lock is held
# (clock_timestamp() in a CTE fed by the locked row, so it cannot run before the lock), and
# extend the lease only if the session is still open and unexpired at that clock.
_HEARTBEAT_POSTGRES = f"""
WITH locked AS MATERIALIZED (
    SELECT v.id, v.user_id FROM {VIEWERS} v
    WHERE v.id = (SELECT viewer_id FROM {SESSIONS} WHERE id = %(id)s)
    FOR UPDATE
), clock AS MATERIALIZED (
    SELECT clock_timestamp() AS now, locked.user_id FROM locked
)
UPDATE {SESSIONS} s
SET last_heartbeat = clock.now, expires_at = clock.now + %(lease)s
FROM clock
WHERE s.id = %(id)s AND s.ended_at IS NULL AND s.expires_at > clock.now
RETURNING {SESSION_ROWS.columns("s")}, clock.user_id AS viewer_user_id
"""
# SQLite: one UPDATE takes the database's write lock, so judging and extending are one step.
_SQLITE_NOW = "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')"
_HEARTBEAT_SQLITE = f"""
UPDATE {SESSIONS}
SET last_heartbeat = {_SQLITE_NOW},
    expires_at = STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', %(lease)s)
WHERE id = %(id)s AND ended_at IS NULL AND expires_at > {_SQLITE_NOW}
RETURNING {SESSION_ROWS.columns()},
    (SELECT user_id FROM {VIEWERS} WHERE {VIEWERS}.id = viewer_id) AS viewer_user_id
"""

# One statement: end the open sessions among {ids} now, or at their lease's end if that has
# passed (an expired session keeps its true end). Django's Now() reads these clocks too
# (STATEMENT_TIMESTAMP on PostgreSQL); plain SQL spares the ORM's compilation of the two CASEs
# on every stop.
_END = """
UPDATE {sessions}
SET ended_at = CASE WHEN expires_at <= {now} THEN expires_at ELSE {now} END,
    end_reason = CASE WHEN expires_at <= {now} THEN %s ELSE %s END
WHERE id IN ({{ids}}) AND ended_at IS NULL
"""
_END_POSTGRES = _END.format(sessions=SESSIONS, now="STATEMENT_TIMESTAMP()")
_END_SQLITE = _END.format(sessions=SESSIONS, now=_SQLITE_NOW)

# The database function of migration streams/0002 (decision 0034).
_START_POSTGRES = "SELECT streams_session_start(%s, %s, %s, %s, %s, %s, %s)"


def session_heartbeat_extend(
    *, session_id: uuid.UUID, lease_seconds: int
) -> tuple[StreamSession, str] | None:
    """Extend the lease of a live session: the session and its viewer's user id, or None when
    it is unknown, ended or expired."""
    if connection.vendor == "postgresql":
        sql = _HEARTBEAT_POSTGRES
        params: dict[str, Any] = {"id": session_id, "lease": timedelta(seconds=lease_seconds)}
    else:
        sql, params = (
            _HEARTBEAT_SQLITE,
            {"id": session_id.hex, "lease": f"+{lease_seconds} seconds"},
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else (SESSION_ROWS.load(row), row[-1])


def sessions_end(*, session_ids: Sequence[uuid.UUID], reason: str) -> int:
    """End those of the sessions that are open (see _END); how many were."""
    if not session_ids:
        return 0
    postgres = connection.vendor == "postgresql"
    ids: list[Any] = list(session_ids) if postgres else [each.hex for each in session_ids]
    sql = (_END_POSTGRES if postgres else _END_SQLITE).format(ids=", ".join(["%s"] * len(ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [EndReason.EXPIRED.value, reason, *ids])
        ended: int = cursor.rowcount
    return ended


def session_start_call(
    *,
    user_id: str,
    device_id: str | None,
    content_id: str | None,
    session_id: uuid.UUID | None,
    new_id: uuid.UUID,
    lease_seconds: int,
    default_limit: int,
) -> dict[str, Any]:
    """PostgreSQL only: a start in one statement; the function's JSON answer, parsed."""
    params = [user_id, device_id, content_id, session_id, new_id]
    with connection.cursor() as cursor:
        lease = timedelta(seconds=lease_seconds)
        # django-stubs' parameter types omit timedelta, which psycopg adapts to an interval.
        cursor.execute(_START_POSTGRES, [*params, lease, default_limit])  # type: ignore[list-item]
        (text,) = cursor.fetchone()
    # Django's connections leave JSON to be parsed by the caller.
    answer: dict[str, Any] = orjson.loads(text)
    return answer


# SQLite's clock, as Django's Now() reads it there, truncated to the hour in the text form
# Django stores datetimes in.
_REFUSAL_HOUR_SQLITE = f"""
INSERT INTO {REFUSAL_HOURS} (viewer_id, hour, count)
VALUES (%s, strftime('%%Y-%%m-%%d %%H:00:00', 'now'), 1)
ON CONFLICT (viewer_id, hour) DO UPDATE SET count = count + 1
"""


def refusal_hour_count(*, viewer_id: int) -> None:
    """SQLite only (PostgreSQL's start function does it): count one refused start in the
    current hour. Runs inside the refusing start's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_REFUSAL_HOUR_SQLITE, [viewer_id])
