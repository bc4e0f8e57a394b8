"""Requests sent to a WSGI application as a server sends them, and their answers: for the
tests of the fast path (core.fastpath), which compare its answers with the full stack's."""

from dataclasses import dataclass
from typing import Any

from django.test import RequestFactory

COLLECT = "/api/analytics/collect"
EVENT = b'{"event": "click", "userId": "u1", "device": "mobile"}'


@dataclass
class Answer:
    status: str
    headers: dict[str, str]
    body: bytes


def call(
    app, *, path: str = COLLECT, body: bytes = EVENT, key: str | None = None, **extra: Any
) -> Answer:
    """One POST to ``app`` as a WSGI server would send it (with its Host header)."""
    environ = {"HTTP_HOST": "testserver", **extra}
    if key is not None:
        environ["HTTP_X_API_KEY"] = key
    content_type = environ.pop("CONTENT_TYPE", "application/json")
    request = RequestFactory().post(path, data=body, content_type=content_type)
    request.environ.update(environ)
    return _answer(app, request.environ)


def get(app, path: str, **extra: Any) -> Answer:
    """One GET to ``app`` as a WSGI server would send it (with its Host header)."""
    request = RequestFactory().get(path)
    request.environ.update({"HTTP_HOST": "testserver", **extra})
    return _answer(app, request.environ)


def _answer(app, environ: dict[str, Any]) -> Answer:
    started: list = []
    result = app(environ, lambda status, headers: started.append((status, headers)))
    try:
        content = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()  # Django's response sends request_finished here
    status, headers = started[0]
    return Answer(status=status, headers=dict(headers), body=content)
