"""Screenshots of every admin page (``manage.py admin_screenshots``).

The pages are core.admin_pages' list, opened signed in with a session made in this database,
against a server this process starts (granian on a free port of 127.0.0.1, the production
command of config/server.py) or one already running on the same database.
"""

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User

from config.server import web_command
from core.admin_pages import AdminPage
from core.browser import VIEWPORT, PageWatch, chromium_launch

SERVER_START_SECONDS = 30
PAGE_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Shot:
    page: AdminPage
    file: Path
    status: int
    problems: list[str]


def session_key_create(user: User) -> str:
    """A signed-in session of ``user`` in this database, as the admin's login would make."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the web server exited with status {server.returncode}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answered (503 without a worker is an answer)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the web server did not answer within {SERVER_START_SECONDS} s")


@contextmanager
def web_server_running() -> Iterator[str]:
    """The platform's web server on a free local port for the block; its base URL."""
    port = _free_port()
    command = web_command(host="127.0.0.1", port=port, workers=1, threads=4)
    server = subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def file_name(page: AdminPage) -> str:
    return page.name.replace(":", "--") + ".png"


def screenshots_take(
    *, pages: Sequence[AdminPage], base_url: str, session_key: str, output_dir: Path
) -> list[Shot]:
    """One PNG of the visible window (1366x900) per page, in ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    cookie = {"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": base_url}
    shots = []
    with chromium_launch() as browser:
        context = browser.new_context(base_url=base_url, viewport=VIEWPORT)  # type: ignore[arg-type]
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        context.add_cookies([cookie])  # type: ignore[list-item]
        for page in pages:
            tab = context.new_page()
            watch = PageWatch(origin=base_url)
            watch.attach(tab)
            response = tab.goto(page.path)
            target = output_dir / file_name(page)
            tab.screenshot(path=target)
            status = response.status if response is not None else 0
            shots.append(Shot(page, target, status, watch.problems))
            tab.close()
        context.close()
    return shots
