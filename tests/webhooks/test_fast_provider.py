"""The known mock providers' ``GET /providers/{name}`` on the WSGI fast path (core.fastpath):
each answer, a payload or an injected failure, byte for byte the full stack's; what the fast
path does not take is the full stack's alone."""

from datetime import timedelta

import pytest

from config.wsgi import application, django_application
from core.fastpath import FastPathApplication
from tests.webhooks.factories import MockProviderFactory
from tests.wsgi import get
from webhooks import clock, providers
from webhooks.models import MockProvider
from webhooks.providers import payload
from webhooks.selectors import MOCK_PROVIDER_NAMES

pytestmark = pytest.mark.django_db(transaction=True)

COMMON = {
    "Vary": "Accept",
    "Allow": "GET, HEAD, OPTIONS",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture(autouse=True)
def mock_on(settings):
    settings.PROVIDERS_MOCK_ENABLED = True


@pytest.mark.parametrize("name", ["gas", "internet"])
def test_a_payload_is_answered_exactly_as_by_the_full_stack(name, taken):
    MockProviderFactory(name=name, failure_rate=0)
    fast = get(application, f"/providers/{name}")
    assert taken == [200]
    assert fast == get(django_application, f"/providers/{name}")
    body = payload(name)
    assert (fast.status, fast.body) == ("200 OK", body)
    assert fast.headers == {
        "Content-Type": "application/json",
        **COMMON,
        "Content-Length": str(len(body)),
    }


def test_an_injected_failure_is_answered_exactly_as_by_the_full_stack(taken, caplog):
    MockProviderFactory(failure_rate=1)
    fast = get(application, "/providers/gas")
    assert taken == [500]
    assert fast == get(django_application, "/providers/gas")
    assert (fast.status, fast.body) == ("500 Internal Server Error", b"#fail")
    assert fast.headers == {"Content-Type": "text/plain", **COMMON, "Content-Length": "5"}
    assert "Internal Server Error" not in caplog.text  # the mock working, not a server error


def test_the_outage_window_and_the_failure_rate_are_read_on_every_request(taken):
    MockProviderFactory(failure_rate=0)
    provider = MockProvider.objects.get(name="gas")
    assert get(application, "/providers/gas").status == "200 OK"
    provider.outage_until = clock.now() + timedelta(minutes=5)
    provider.save()
    assert get(application, "/providers/gas").status == "500 Internal Server Error"
    provider.outage_until, provider.failure_rate = None, 0.5
    provider.save()
    providers.rng.seed(3)
    statuses = [get(application, "/providers/gas").status[:3] for _ in range(40)]
    assert taken == [200, 500, *(int(status) for status in statuses)]
    assert 10 < statuses.count("500") < 30


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/providers/gas?x=1", {}),  # a query string
        ("/providers/water", {}),  # not a known provider
        ("/providers/gas", {"HTTP_ACCEPT": "text/html"}),  # an answer DRF would refuse (406)
        ("/providers/gas", {"CONTENT_LENGTH": "3"}),  # a GET with a body
        ("/providers/gas", {"HTTP_HOST": "evil.example"}),  # a host not allowed
        ("/providers/gas", {"REQUEST_METHOD": "HEAD"}),
    ],
)
def test_what_the_fast_path_does_not_take_is_answered_by_the_full_stack(
    path, extra, taken, settings
):
    settings.PROVIDERS_FAILURE_RATE = 0  # an unknown name's rate
    MockProviderFactory(failure_rate=0)
    answer = get(application, path, **extra)
    assert taken == []
    assert answer == get(django_application, path, **extra)


def test_with_the_mock_providers_off_the_404_is_the_full_stacks(settings, taken, caplog):
    settings.PROVIDERS_MOCK_ENABLED = False
    answer = get(application, "/providers/gas")
    assert (answer.status, answer.body, taken) == ("404 Not Found", b"", [])
    assert "Not Found: /providers/gas" in caplog.text


def test_a_fast_answer_reads_the_providers_settings_in_one_query(taken, django_assert_num_queries):
    MockProviderFactory(failure_rate=0)
    with django_assert_num_queries(1):
        assert get(application, "/providers/gas").status == "200 OK"
    assert taken == [200]


def test_the_fast_routes_are_the_known_mock_providers():
    routes = FastPathApplication(django_application).routes()
    fast = {path.rsplit("/", 1)[1] for (method, path) in routes if method == "GET"}
    assert fast == set(MOCK_PROVIDER_NAMES)
