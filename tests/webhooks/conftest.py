"""Fixtures of the webhooks tests: the outside world (DNS, providers' and callbacks' HTTP, the
clock) replaced; everything else, the database included, real."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import responses

from webhooks import clock, netguard, providers, recording, work

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


@dataclass
class Outside:
    receiver: Receiver
    provider_calls: dict[str, int]
    mock: responses.RequestsMock


def _provider_callback(name: str, counts: dict[str, int]) -> Callable:
    def answer(request):
        counts[name] = counts.get(name, 0) + 1
        got = providers.mock_provider_answer(name=name)
        headers = {"Content-Type": got.content_type} if got.content_type else {}
        return (got.status, headers, got.body)

    return answer


@pytest.fixture
def outside(webhooks_settings):
    """Providers served by the mock providers' own code; the callback by a Receiver."""
    receiver = Receiver()
    counts: dict[str, int] = {}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for name, url in webhooks_settings.WEBHOOKS_PROVIDERS.items():
            mock.add_callback("GET", url, callback=_provider_callback(name, counts))
        mock.add_callback("POST", CALLBACK_URL, callback=receiver)
        yield Outside(receiver, counts, mock)
