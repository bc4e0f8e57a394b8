"""The browser test harness: a live server on the test database with the demo data, one
headless Chromium per session, and pages that record console errors and requests to other hosts.

Fixtures (see docs/architecture.md, "Browser tests"):

- ``live_url``: the live server's base URL (``http://127.0.0.1:<port>``), session-wide.
- ``browser_data``: the demo data (plus one row of every model it leaves empty) committed to
  the test database once for this package, removed after its last test.
- ``browser_data_restore``: request it in a test that changes data; the data is put back to
  the demo state after that test.
- ``browser``: the shared Playwright ``Browser`` (Debian's Chromium), one for the package.
- ``anonymous_page``: a Playwright ``Page`` in a fresh context, not signed in.
- ``admin_page``: a new ``Page`` signed in as the demo operator (a superuser), in one context
  shared by the package (its cache and cookies: sign out in ``anonymous_page``, not here).
- ``browser_watch``: the ``PageWatch`` of the test's page; every page fixture fails its test at
  teardown when it recorded a problem, and ``assert_page_clean(browser_watch)`` checks on the
  spot.

Without Chromium (``/usr/bin/chromium``) the tests here are skipped with the reason, except
under CI (``CI=true``), where they fail: ``.ci/run`` installs it.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test import Client
from django.test.utils import setup_databases, teardown_databases

from core.browser import VIEWPORT, PageWatch, browser_unavailable_reason, chromium_launch
from tests.browser.data import browser_data_load

# Admin pages are rendered by the server thread; a page that needs longer is a finding.
PAGE_TIMEOUT_MS = 15_000


def assert_page_clean(watch: PageWatch) -> None:
    """Fail the test if the page logged a console error, hit an uncaught script error or
    requested anything from another host since the watch started (or was last cleared)."""
    problems = watch.problems
    watch.clear()
    if problems:
        pytest.fail("browser problems:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def _browser_available() -> None:
    reason = browser_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests need Chromium: {reason}")


@pytest.fixture(scope="package")
def browser(_browser_available, browser_data) -> Iterator:
    """One Chromium for every browser test (they all live in this package).

    Playwright's synchronous API keeps an event loop marked as running in this thread while the
    browser is open, which Django takes for an async context and refuses database access in;
    the tests' own database work is synchronous all the same, hence the flag, for this package
    only (after it the loop is gone and the rest of the suite runs with Django's check)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with chromium_launch() as shared:
            yield shared


@pytest.fixture(scope="session")
def live_url(_browser_available) -> Iterator[str]:
    # Our own server thread rather than pytest-django's ``live_server``: that one wraps each
    # test in ``transactional_db``, which empties every table after each test, and loading the
    # demo data again per page would cost more than the pages.
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("127.0.0.1:0")
    yield server.url
    server.stop()


def _flush_database() -> None:
    call_command("flush", interactive=False, verbosity=0)
    # Connections opened while Playwright's loop runs belong to that context: close them here
    # rather than leave them open on the test database.
    connections.close_all()


@contextmanager
def _test_database(django_db_keepdb: bool) -> Iterator[None]:
    """pytest-django creates the test database only when some collected test asks for ``db``;
    a run of the browser tests alone asks for none, so create it here then (the live server
    must never touch the development database)."""
    test_name = connection.creation._get_test_db_name()  # type: ignore[attr-defined]
    if connection.settings_dict["NAME"] == test_name:
        yield
        return
    # Django takes any collection of aliases here (its stubs say a mapping).
    config = setup_databases(
        verbosity=0,
        interactive=False,
        keepdb=django_db_keepdb,
        aliases={DEFAULT_DB_ALIAS},  # type: ignore[arg-type]
        serialized_aliases=set(),
    )
    try:
        yield
    finally:
        if not django_db_keepdb:
            teardown_databases(config, verbosity=0)


@pytest.fixture(scope="package")
def browser_data(django_db_setup, django_db_blocker, django_db_keepdb) -> Iterator[None]:
    """The demo data, committed (the server thread reads through its own connection), for as
    long as this package's tests run; the tables are emptied again after them, as a
    transactional test leaves them."""
    with django_db_blocker.unblock(), _test_database(django_db_keepdb):
        _flush_database()
        browser_data_load()
        yield
        _flush_database()


@pytest.fixture
def browser_data_restore(browser_data) -> Iterator[None]:
    """For a test that changes data: the next test finds the demo data as it was."""
    yield
    _flush_database()
    browser_data_load()
    connections.close_all()


def _operator_session_cookie(live_url: str) -> dict[str, str | bool]:
    # A session made on the server side, as a sign-in would: no password hashing per test.
    operator = get_user_model().objects.get(username=settings.DEMO_OPERATOR_USERNAME)
    client = Client()
    client.force_login(operator)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": live_url}


@pytest.fixture
def browser_watch(live_url) -> PageWatch:
    return PageWatch(origin=live_url)


def _context(browser, live_url: str):
    context = browser.new_context(base_url=live_url, viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context


def _page(context, watch: PageWatch) -> Iterator:
    page = context.new_page()
    watch.attach(page)
    try:
        yield page
    finally:
        page.close()
        connections.close_all()
    assert_page_clean(watch)


@pytest.fixture(scope="package")
def _admin_context(browser, live_url):
    # One context for every admin page: its cache keeps the admin's 20 static files after the
    # first page (a cold context takes ~1.5 s per page on a busy machine, a warm one ~0.2 s).
    context = _context(browser, live_url)
    yield context
    context.close()


@pytest.fixture
def anonymous_page(browser, live_url, browser_data, browser_watch):
    context = _context(browser, live_url)
    try:
        yield from _page(context, browser_watch)
    finally:
        context.close()


@pytest.fixture
def admin_page(_admin_context, live_url, browser_data, browser_watch):
    # A new session each test: browser_data_restore empties the sessions table too.
    _admin_context.add_cookies([_operator_session_cookie(live_url)])
    yield from _page(_admin_context, browser_watch)
