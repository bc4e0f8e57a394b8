"""The one exception handler of the API: every error leaves in one of two documented shapes.

- Validation errors: DRF's field-error shape, ``{"field": ["message"]}`` (400).
- Everything else: ``{"detail": "...", "code": "..."}`` plus any extra fields an
  ``ApplicationError`` carries (409 ``stream_limit_reached`` lists the active sessions, say).

A store the request needs that is unavailable for the moment (the database's connection lost or
refused, its pool exhausted, a server shutting down, SQLite's write lock held past its timeout,
Redis unreachable) is a 503 ``service_unavailable`` with ``Retry-After``, not a 500: the client
may send the request again (decision 0071). Any other database error stays a 500, logged as a
bug.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError

logger = logging.getLogger(__name__)

RETRY_AFTER_UNAVAILABLE_SECONDS = 5
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


def _pool_check() -> None:
    """After a lost connection, test the pool's idle connections: a server that restarted broke
    every one of them, and each would otherwise fail one more request before the pool noticed."""
    pool = getattr(connection, "pool", None)  # PostgreSQL with a pool (the production set-up)
    if pool is None:
        return
    try:
        pool.check()  # a round trip per idle connection; broken ones are replaced in the back
    except Exception:
        logger.exception("could not check the database pool after a lost connection")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if service_unavailable(exc):
        logger.error("service unavailable: %s: %s", type(exc).__name__, exc)
        if isinstance(exc, InterfaceError | OperationalError) and connection.vendor != "sqlite":
            _pool_check()
        return Response(
            {
                "code": "service_unavailable",
                "detail": "The service is unavailable for the moment (its database or cache "
                "did not answer): retry after Retry-After seconds.",
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)},
        )
    if isinstance(exc, ApplicationError):
        body = {"code": exc.code, "detail": exc.detail, **exc.extra}
        return Response(body, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"code": "request_too_large", "detail": "Request body too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling logs it
    if isinstance(exc, exceptions.APIException) and isinstance(response.data, dict):
        if "detail" in response.data and "code" not in response.data:
            codes = exc.get_codes()
            response.data["code"] = codes if isinstance(codes, str) else exc.default_code
    elif isinstance(exc, Http404 | PermissionDenied) and isinstance(response.data, dict):
        response.data.setdefault("code", "not_found" if isinstance(exc, Http404) else "forbidden")
    return response
