"""The one base class for errors that services raise and the API maps to a response."""

from typing import Any


class ApplicationError(Exception):
    """A failure the caller can act on, with a stable machine-readable code.

    The API exception handler turns it into ``{"code": ..., "detail": ..., **extra}`` with
    ``status_code``; management commands print ``detail`` and exit non-zero.
    """

    status_code = 400
    code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status_code = 404
    code = "not_found"


class ConflictError(ApplicationError):
    status_code = 409
    code = "conflict"
