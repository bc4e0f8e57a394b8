"""The bench's outage simulation (bench/webhooks_outage.py) runs the real engine against its
stand-in outside world: the breaker bounds the calls during ten minutes of outage, and every
request is delivered once the provider recovers."""

import json

import pytest

from bench import webhooks_outage

pytestmark = pytest.mark.django_db


def test_the_outage_simulation_bounds_the_calls_and_delivers_everything(settings, capsys):
    settings.PROVIDERS_MOCK_ENABLED = True
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True  # the stand-in callback's address
    settings.WEBHOOKS_CONCURRENCY = 1
    settings.WEBHOOKS_BREAKER_FAILURES = 5
    settings.WEBHOOKS_BREAKER_COOLDOWN_SECONDS = 30
    webhooks_outage.main()
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["requests"] == 40  # one every 15 s for 600 s
    # Five failures open the breaker; then one probe per 30 s cool-down, about 20 in 600 s.
    assert figures["provider_calls_during_outage"] == 24
    assert figures["provider_calls_after_outage"] == 40  # one successful fetch per request
    assert figures["delivered_after_recovery"] == 40
