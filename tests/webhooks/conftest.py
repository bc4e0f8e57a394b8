"""Fixtures of the webhooks tests: the outside world (DNS, providers' and callbacks' HTTP, the
clock) replaced; everything else, the database included, real.

The HTTP of the outside world is ``FakeWeb``, put in place of ``webhooks.transfer.transfer``
where the calls leave the process: everything above it (the wires built, the callbacks'
guard, the answers read) is the production code. tests/webhooks/test_http.py and test_ssrf.py
make real calls to local servers."""

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from django.db import connections

from webhooks import clock, http, netguard, providers, recording, work
from webhooks.transfer import Wire, WireAnswer, WireFailure

CALLBACK_URL = "https://callback.example/hook"
PUBLIC_ADDRESS = "93.184.216.34"


@pytest.fixture(autouse=True)
def webhooks_settings(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True
    settings.PROVIDERS_MOCK_ENABLED = True
    settings.PROVIDERS_FAILURE_RATE = 0.5
    settings.WEBHOOKS_CONCURRENCY = 1
    settings.WEBHOOKS_PROVIDERS = {
        "gas": "http://providers.test/providers/gas",
        "internet": "http://providers.test/providers/internet",
    }
    return settings


@pytest.fixture(autouse=True)
def _one_window(one_window):
    """Every webhooks test counts its submits in one rate-limit window."""


@pytest.fixture(autouse=True)
def seeded():
    recording.rng.seed(20)
    providers.rng.seed(10)


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> Iterator[list[tuple]]:
    """Tasks enqueued on django-q2 (none runs: the tests drive the work themselves)."""
    calls: list[tuple] = []
    monkeypatch.setattr("core.batching.async_task", lambda *a, **k: calls.append(a))
    yield calls
    _drain_lock_release()


def _drain_lock_release() -> None:
    """The drain's in-flight lock lives in the cache, which the database flush of a
    transactional test does not empty: release it so no later test inherits it."""
    from django.core.cache import cache

    cache.delete(work.WORK_BATCHER.lock_key)


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> dict[str, list[str]]:
    """The resolver: name -> addresses (an unknown name does not resolve)."""
    answers = {"callback.example": [PUBLIC_ADDRESS], "providers.test": [PUBLIC_ADDRESS]}

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return list(answers[host])

    monkeypatch.setattr(netguard, "resolve", resolve)
    return answers


@pytest.fixture
def driven():
    with clock.clock_drive(datetime(2026, 1, 5, 12, 0, tzinfo=UTC)) as driven_clock:
        yield driven_clock


@dataclass
class Receiver:
    """The callback receiver: answers from ``script`` (then 200), records every call."""

    script: list = field(default_factory=list)
    calls: list = field(default_factory=list)

    def __call__(self, request):
        self.calls.append(request)
        if self.script:
            answer = self.script.pop(0)
            return answer if isinstance(answer, tuple) else (answer, {}, "")
        return (200, {}, "ok")

    def bodies(self) -> list[dict]:
        return [json.loads(call.body) for call in self.calls]


@dataclass(frozen=True)
class Sent:
    """A call as the outside world received it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


Route = Callable[[Sent], tuple]  # -> (status, headers, body)


class FakeWeb:
    """The outside world's HTTP: (method, URL) -> a route answering ``(status, headers,
    body)``; a call to any other URL fails to connect, as an unknown host would."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}

    def add_callback(self, method: str, url: str, *, callback: Route) -> None:
        self.routes[(method, url)] = callback

    def replace(self, method: str, url: str, *, status: int, body: bytes = b"") -> None:
        self.routes[(method, url)] = lambda _sent: (status, {}, body)

    def transfer(
        self, wires: Sequence[Wire], *, concurrency: int
    ) -> list[WireAnswer | WireFailure]:
        answers = [self._answer(wire) for wire in wires]
        if threading.current_thread() is not threading.main_thread():
            # The mock providers read their settings from the database: on a drain's calls
            # thread, that connection is the outside world's, closed when it has answered.
            connections.close_all()
        return answers

    def _answer(self, wire: Wire) -> WireAnswer | WireFailure:
        started = datetime.now(UTC)
        route = self.routes.get((wire.method, wire.url))
        if route is None:
            error = f"ConnectionError: Could not resolve host for {wire.url}"
            return WireFailure(error, started, datetime.now(UTC))
        status, headers, body = route(
            Sent(wire.method, wire.url, dict(wire.headers), wire.body or b"")
        )
        body = body.encode() if isinstance(body, str) else body
        if wire.keep_bytes is not None:
            body = body[: wire.keep_bytes]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()
        return WireAnswer(
            status, b"HTTP/1.1 %d\r\n" % status + head, body, started, datetime.now(UTC)
        )


@pytest.fixture
def fake_web(monkeypatch) -> FakeWeb:
    web = FakeWeb()
    monkeypatch.setattr(http, "transfer", web.transfer)
    return web


@dataclass
class Outside:
    receiver: Receiver
    provider_calls: dict[str, int]
    mock: FakeWeb


def _provider_callback(name: str, counts: dict[str, int]) -> Callable:
    def answer(request):
        counts[name] = counts.get(name, 0) + 1
        got = providers.mock_provider_answer(name=name)
        headers = {"Content-Type": got.content_type} if got.content_type else {}
        return (got.status, headers, got.body)

    return answer


@pytest.fixture
def outside(webhooks_settings, fake_web):
    """Providers served by the mock providers' own code; the callback by a Receiver."""
    receiver = Receiver()
    counts: dict[str, int] = {}
    for name, url in webhooks_settings.WEBHOOKS_PROVIDERS.items():
        fake_web.add_callback("GET", url, callback=_provider_callback(name, counts))
    fake_web.add_callback("POST", CALLBACK_URL, callback=receiver)
    return Outside(receiver, counts, fake_web)
