"""A store the request needs, unavailable for the moment: the database's connection lost or
refused, its pool exhausted, a server shutting down, SQLite's write lock held past its timeout,
Redis unreachable. Such a request is answered 503 ``service_unavailable`` with ``Retry-After``,
not 500: the client may send it again (decision 0071). Any other database error stays a 500,
logged as a bug.

``OutageMiddleware`` answers it for every view: the admin's pages, and the API's, whose
exception handler (``core.api.exceptions``) knows no such error and lets DRF raise it again.
"""

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase

logger = logging.getLogger(__name__)

RETRY_AFTER_UNAVAILABLE_SECONDS = 5
UNAVAILABLE_BODY = {
    "code": "service_unavailable",
    "detail": "The service is unavailable for the moment (its database or cache did not "
    "answer): retry after Retry-After seconds.",
}
UNAVAILABLE_HEADERS = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)}
# PostgreSQL's SQLSTATE classes and codes of a server that cannot serve now: connection
# exceptions, insufficient resources, operator intervention (shutdown, cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def service_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says a store is unavailable for the moment, rather than a bug."""
    if isinstance(exc, InterfaceError):
        return True  # the connection is closed or unusable
    if isinstance(exc, OperationalError):
        cause = exc.__cause__
        sqlstate = getattr(cause, "sqlstate", None)
        if cause is not None and type(cause).__module__.startswith("psycopg"):
            # No SQLSTATE: the connection failed or was lost (a pool timeout included).
            return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
        return "database is locked" in str(exc)  # SQLite: a writer held the lock too long
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency of the project
        return False
    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


def outage_record(exc: BaseException) -> None:
    """Log the outage (not as a bug), and after a lost PostgreSQL connection test the pool's
    idle connections: a server that restarted broke every one of them, and each would otherwise
    fail one more request before the pool noticed."""
    logger.error("service unavailable: %s: %s", type(exc).__name__, exc)
    if not isinstance(exc, InterfaceError | OperationalError) or connection.vendor == "sqlite":
        return
    pool = getattr(connection, "pool", None)  # PostgreSQL with a pool (the production set-up)
    if pool is None:
        return
    try:
        pool.check()  # a round trip per idle connection; broken ones are replaced in the back
    except Exception:
        logger.exception("could not check the database pool after a lost connection")


class OutageMiddleware:
    """The 503 for an exception a view raised because a store is unavailable, whichever view
    (DRF re-raises what the API's exception handler does not know). Until a view raises, a
    pass-through call."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> JsonResponse | None:
        if not service_unavailable(exception):
            return None  # Django's own handling: a bug is a logged 500
        outage_record(exception)
        return JsonResponse(UNAVAILABLE_BODY, status=503, headers=UNAVAILABLE_HEADERS)
