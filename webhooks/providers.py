"""The mock providers served at ``GET /providers/{name}``: the original providers' exact
payloads, with injected failures (a failure rate, an outage window, an added latency)."""

import random
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings

from webhooks import clock
from webhooks.selectors import MOCK_PROVIDER_NAMES, MockSettings, mock_provider_get

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAILURE_BODY = b"#fail"

# Seeded by tests; decides which requests fail.
rng = random.Random()


@dataclass(frozen=True)
class MockAnswer:
    status: int
    body: bytes
    content_type: str | None


@cache
def payload(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def mock_provider_answer(*, name: str) -> MockAnswer:
    if not settings.PROVIDERS_MOCK_ENABLED:
        return MockAnswer(404, b"", None)
    known = name in MOCK_PROVIDER_NAMES
    # Unknown names fail at the default rate too, as the original service did.
    config = (
        mock_provider_get(name=name)
        if known
        else MockSettings(
            name, float(settings.PROVIDERS_FAILURE_RATE), None, settings.PROVIDERS_LATENCY_MS
        )
    )
    if config.latency_ms:
        time.sleep(config.latency_ms / 1000)
    in_outage = config.outage_until is not None and clock.now() < config.outage_until
    if in_outage or rng.random() < config.failure_rate:
        return MockAnswer(500, FAILURE_BODY, "text/plain")
    if not known:
        return MockAnswer(404, b"", None)
    return MockAnswer(200, payload(name), "application/json")
