"""Fixtures shared by every domain's tests."""

import logging

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _batcher_memory_cleared():
    """Each test starts with no process memory of a batcher's in-flight lock."""
    from core import batching

    batching._lock_seen_until.clear()
    yield
    batching._lock_seen_until.clear()


def pytest_collection_modifyitems(config, items):
    if settings.IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


class ServerErrorLog(logging.Handler):
    """Collects the ``Internal Server Error`` lines Django logs for a 500 (``django.request``)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "status_code", None) == 500:
            self.lines.append(record.getMessage())


@pytest.fixture(autouse=True)
def no_server_errors(request):
    """Fails any test during which a request ended in a 500, even one the test did not check:
    the log of a whole suite run then holds no ``Internal Server Error`` line. A test that
    provokes one on purpose is marked ``allow_server_errors``."""
    log = ServerErrorLog()
    logger = logging.getLogger("django.request")
    logger.addHandler(log)
    yield log
    logger.removeHandler(log)
    if log.lines and "allow_server_errors" not in request.keywords:
        pytest.fail("server errors logged: " + "; ".join(log.lines), pytrace=False)


@pytest.fixture
def test_database_url(db) -> str:
    """A DATABASE_URL for subprocesses (a worker, the server) that must use the test database."""
    from django.db import connection

    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or "postgres"
    host = conf.get("HOST") or "127.0.0.1"
    port = conf.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{conf['NAME']}"


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def _user_with_token(username: str, *, superuser: bool = False, perms: tuple[str, ...] = ()):
    # No password: the clients use their token, and hashing one costs ~0.2 s per user.
    user = get_user_model().objects.create_user(
        username=username, password=None, is_superuser=superuser, is_staff=superuser
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    token = Token.objects.create(user=user)
    return user, token


@pytest.fixture
def make_client(db):
    """``make_client(perms=("app.codename", ...), superuser=False)`` → APIClient with a token."""
    counter = {"n": 0}

    def factory(*, perms: tuple[str, ...] = (), superuser: bool = False) -> APIClient:
        counter["n"] += 1
        _, token = _user_with_token(f"user{counter['n']}", superuser=superuser, perms=perms)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return factory


@pytest.fixture
def operator_client(make_client) -> APIClient:
    return make_client(superuser=True)


@pytest.fixture
def cache_cleared():
    """An empty cache before and after the test (the batcher's in-flight lock lives there, and
    a transactional test's database flush does not empty the cache)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def enqueued(monkeypatch) -> list:
    """Replace the batcher's django-q2 enqueue boundary with a recorder of (function, args).
    The webhooks tests override it with their own."""
    from core import batching

    calls: list = []
    monkeypatch.setattr(
        batching, "async_task", lambda func, *args, **kw: calls.append((func, args))
    )
    return calls


@pytest.fixture
def taken(monkeypatch) -> list[int]:
    """The statuses the fast path answered itself (the full stack answered the rest)."""
    from core import fastpath

    answered: list[int] = []
    original = fastpath._status_line

    def status_line(status: int) -> str:
        answered.append(status)
        return original(status)

    monkeypatch.setattr(fastpath, "_status_line", status_line)
    return answered


# A multiple of 60: the start of a one-minute rate-limit window.
RATE_WINDOW_START = 1_699_999_980


@pytest.fixture
def one_window(monkeypatch):
    """The rate limits' clock held 10 s into one window (so a refusal's ``Retry-After`` is 50):
    a test counting requests against a limit does not see its window end between two requests
    (wall time would, about once in 60 runs of a one-second test)."""
    from types import SimpleNamespace

    from core import ratelimit

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: RATE_WINDOW_START + 10.0))
