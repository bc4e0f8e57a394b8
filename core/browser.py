"""Headless Chromium for the browser tests and ``manage.py admin_screenshots``.

Playwright (a development dependency) drives Debian's Chromium (``apt-get install chromium``),
not a browser build of its own: launched headless, without sandbox or GPU, with every
background service that would call another host switched off, in a fresh profile each launch.
A page is watched for what an operator must never meet: a console error, an uncaught script
error, or a request to a host other than the platform's own.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Request, WebError

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The size of the screenshots and of every test page: a common laptop screen.
VIEWPORT = {"width": 1366, "height": 900}
# Schemes a page loads without leaving the process (inline images, generated blobs).
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})


class BrowserUnavailableError(RuntimeError):
    """Chromium or Playwright is not installed here."""


def browser_unavailable_reason() -> str | None:
    """Why a browser cannot be launched here, or None when it can."""
    if not CHROMIUM_PATH.exists():
        return f"{CHROMIUM_PATH} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (a development dependency: uv sync)"
    return None


@contextmanager
def chromium_launch() -> Iterator["Browser"]:
    """One headless Chromium for as long as the block runs (Playwright starts a fresh profile
    in a temporary directory at each launch and removes it at close)."""
    reason = browser_unavailable_reason()
    if reason is not None:
        raise BrowserUnavailableError(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageWatch:
    """What a browser context met that it should not have: console errors, uncaught script
    errors, and requests to any host other than ``origin`` (scheme, host and port)."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def attach(self, context: "BrowserContext") -> None:
        context.on("console", self._on_console)
        context.on("weberror", self._on_web_error)
        context.on("request", self._on_request)

    def _on_console(self, message: "ConsoleMessage") -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({where})")

    def _on_web_error(self, web_error: "WebError") -> None:
        self.console_errors.append(f"uncaught: {web_error.error}")

    def _on_request(self, request: "Request") -> None:
        if not url_is_local(request.url, origin=self.origin):
            self.foreign_requests.append(f"{request.method} {request.url}")

    @property
    def problems(self) -> list[str]:
        return [
            *(f"console error: {line}" for line in self.console_errors),
            *(f"request to another host: {line}" for line in self.foreign_requests),
        ]

    def clear(self) -> None:
        self.console_errors.clear()
        self.foreign_requests.clear()


def url_is_local(url: str, *, origin: str) -> bool:
    """True for a URL served by ``origin`` itself or one that needs no network at all."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    own = urlsplit(origin)
    return (parts.scheme, parts.netloc) == (own.scheme, own.netloc)
