"""The mock providers: exact payloads, seeded failures, outage window, latency, off switch."""

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.webhooks.factories import MockProviderFactory
from webhooks import providers

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "webhooks" / "fixtures"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "webhooks"


@pytest.mark.parametrize("name", ["gas", "internet"])
def test_the_exact_payload_when_it_does_not_fail(api_client, name):
    MockProviderFactory(name=name)
    response = api_client.get(f"/providers/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == (FIXTURES / f"{name}.json").read_bytes()
    if SHARED.exists():  # the project keeps its own copy; it matches the original
        assert json.loads(response.content) == json.loads((SHARED / f"{name}.json").read_text())


def test_unknown_name_is_404_with_an_empty_body(api_client, settings):
    settings.PROVIDERS_FAILURE_RATE = 0
    response = api_client.get("/providers/water")
    assert (response.status_code, response.content) == (404, b"")


def test_failures_follow_the_rate_with_seeded_randomness(api_client):
    MockProviderFactory(failure_rate=0.5)
    providers.rng.seed(3)
    codes = [api_client.get("/providers/gas").status_code for _ in range(200)]
    providers.rng.seed(3)
    again = [api_client.get("/providers/gas").status_code for _ in range(200)]
    assert codes == again
    assert set(codes) == {200, 500}
    assert 80 <= codes.count(500) <= 120


def test_a_failure_is_500_text_plain_fail(api_client, settings):
    MockProviderFactory(name="internet", failure_rate=1)
    response = api_client.get("/providers/internet")
    assert (response.status_code, response["Content-Type"], response.content) == (
        500,
        "text/plain",
        b"#fail",
    )
    settings.PROVIDERS_FAILURE_RATE = 1
    unknown = api_client.get("/providers/water")  # unknown names fail at the rate too
    assert (unknown.status_code, unknown.content) == (500, b"#fail")


def test_the_outage_window_fails_everything_until_it_ends(api_client, driven):
    MockProviderFactory(outage_until=driven() + timedelta(seconds=60))
    assert api_client.get("/providers/gas").status_code == 500
    driven.advance(59)
    assert api_client.get("/providers/gas").status_code == 500
    driven.advance(1)
    assert api_client.get("/providers/gas").status_code == 200


def test_latency_is_added(api_client, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("webhooks.providers.time.sleep", slept.append)
    MockProviderFactory(latency_ms=250)
    assert api_client.get("/providers/gas").status_code == 200
    assert slept == [0.25]


def test_defaults_come_from_settings_until_an_operator_changes_them(api_client, settings):
    settings.PROVIDERS_FAILURE_RATE = 1
    assert api_client.get("/providers/gas").status_code == 500
    settings.PROVIDERS_FAILURE_RATE = 0
    assert api_client.get("/providers/gas").status_code == 200


def test_off_in_production(api_client, settings):
    settings.PROVIDERS_MOCK_ENABLED = False
    MockProviderFactory()
    response = api_client.get("/providers/gas")
    assert (response.status_code, response.content) == (404, b"")
