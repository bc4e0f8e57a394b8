"""``POST /webhook`` and ``POST /api/webhooks/collections`` on the WSGI fast path
(webhooks.api.fast, decision 0073): the full stack's answer, each request counted and stored
once."""

import json
from typing import Any

import pytest
from django.db import OperationalError, connection

from config.wsgi import application, django_application
from core.models import RateLimitCounter
from tests.wsgi import Answer, call
from webhooks.api import fast
from webhooks.models import CollectionRequest, ProviderFetch

pytestmark = pytest.mark.django_db(transaction=True)

SUBMIT_PATHS = ["/webhook", "/api/webhooks/collections"]
GOOD = {"provider": ["gas", "internet"], "callbackUrl": "https://callback.example/hook"}


def submit(app, path: str, body: Any = GOOD, **extra: Any) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return call(app, path=path, body=raw, **extra)


def _without_ids(answer: Answer) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = json.loads(answer.body)
    request_id = body.pop("id")
    assert body.pop("status_url") == f"http://testserver/api/webhooks/collections/{request_id}"
    return answer.status, answer.headers, body


@pytest.mark.parametrize("path", SUBMIT_PATHS)
def test_a_request_is_answered_as_the_full_stack_answers_it(path, taken, enqueued):
    fast_answer = submit(application, path)
    assert taken == [202]
    full_answer = submit(django_application, path)
    assert _without_ids(fast_answer) == _without_ids(full_answer)
    assert _without_ids(fast_answer)[2] == {
        "status": "collecting",
        "providers": ["gas", "internet"],
    }
    stored = CollectionRequest.objects.get(pk=json.loads(fast_answer.body)["id"])
    assert stored.callback_url == GOOD["callbackUrl"]
    assert ProviderFetch.objects.filter(request=stored).count() == 2
    assert CollectionRequest.objects.count() == 2
    assert enqueued == [("core.batching.batcher_run_task", "webhooks.work.WORK_BATCHER")]


def test_behind_a_tls_proxy_the_status_url_is_https(taken, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    answer = submit(
        application, "/webhook", HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="a.test:8443"
    )
    assert taken == []  # a host outside ALLOWED_HOSTS: the full stack's 400
    settings.ALLOWED_HOSTS = ["a.test"]
    answer = submit(
        application, "/webhook", HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="a.test:8443"
    )
    assert taken == [202]
    assert json.loads(answer.body)["status_url"].startswith(
        "https://a.test:8443/api/webhooks/collections/"
    )


UNTOUCHED: dict[str, Any] = {
    "malformed JSON": b'{"provider": ',
    "an unknown provider": {**GOOD, "provider": ["water"]},
    "an internal callback": {**GOOD, "callbackUrl": "http://169.254.169.254/latest"},
    "an unknown field": {**GOOD, "extra": 1},
}


@pytest.mark.parametrize("case", list(UNTOUCHED), ids=list(UNTOUCHED))
def test_an_invalid_request_is_the_views_400_counted_once(case, taken, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = False
    settings.WEBHOOKS_SUBMIT_RATE = 100
    fast_answer = submit(application, "/webhook", UNTOUCHED[case])
    assert taken == []
    assert fast_answer == submit(django_application, "/webhook", UNTOUCHED[case])
    assert fast_answer.status == "400 Bad Request"
    assert RateLimitCounter.objects.get().count == 2
    assert not CollectionRequest.objects.exists()


def test_over_the_limit_the_views_429_and_each_request_counted_once(taken, settings):
    settings.WEBHOOKS_SUBMIT_RATE = 2
    statuses = [submit(application, "/webhook").status.split()[0] for _ in range(4)]
    assert statuses == ["202", "202", "429", "429"]
    assert taken == [202, 202]
    refused = submit(application, "/webhook")
    assert refused.headers["Retry-After"].isdigit()
    assert json.loads(refused.body)["code"] == "throttled"
    assert RateLimitCounter.objects.get().count == 5
    assert CollectionRequest.objects.count() == 2


def test_an_outage_while_storing_is_the_views_503_and_stores_nothing(taken, monkeypatch):
    calls: list[int] = []

    def locked(**_):
        calls.append(1)
        raise OperationalError("database is locked")

    monkeypatch.setattr(fast, "collection_create", locked)
    answer = submit(application, "/webhook")
    assert taken == []
    assert answer.status == "503 Service Unavailable"
    assert calls == [1]
    assert not CollectionRequest.objects.exists()


@pytest.mark.parametrize("app", [application, django_application], ids=["fast", "full"])
def test_a_client_naming_other_addresses_is_still_counted_by_its_own(app, settings):
    settings.WEBHOOKS_SUBMIT_RATE = 2
    statuses = [
        submit(app, "/webhook", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status.split()[0]
        for n in range(3)
    ]
    assert statuses == ["202", "202", "429"]
    assert RateLimitCounter.objects.get().key == "webhooks.submit:127.0.0.1"


def test_behind_one_proxy_the_address_it_saw_is_counted(settings):
    settings.WEBHOOKS_SUBMIT_RATE = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for client in ("198.51.100.1", "198.51.100.2", "198.51.100.1"):
        submit(application, "/webhook", HTTP_X_FORWARDED_FOR=f"203.0.113.9, {client}")
    counts = dict(RateLimitCounter.objects.values_list("key", "count"))
    assert counts == {"webhooks.submit:198.51.100.1": 2, "webhooks.submit:198.51.100.2": 1}


def test_under_a_script_name_the_status_url_is_the_full_stacks(taken):
    """Served under a path prefix (SCRIPT_NAME), the status URL carries it on both."""
    fast_answer = submit(application, "/webhook", SCRIPT_NAME="/platform")
    full_answer = submit(django_application, "/webhook", SCRIPT_NAME="/platform")
    assert taken == [202]
    for answer in (fast_answer, full_answer):
        body = json.loads(answer.body)
        assert body["status_url"] == (
            f"http://testserver/platform/api/webhooks/collections/{body['id']}"
        )
    submit(application, "/webhook")  # the next request, without a prefix, has none
    assert json.loads(submit(application, "/webhook").body)["status_url"].startswith(
        "http://testserver/api/webhooks/collections/"
    )


@pytest.mark.parametrize(
    ("url", "lookups"),
    [
        ("https://nowhere.test/hook", 2),  # refused: the fast path's check, then the view's
        ("https://callback.example/hook", 1),  # accepted by the fast path's check alone
    ],
)
def test_a_callback_host_is_resolved_once_by_each_path_that_reads_it(
    url, lookups, taken, monkeypatch
):
    from webhooks import netguard

    resolved: list[str] = []
    resolve = netguard.resolve

    def counted(host: str, port: int) -> list[str]:
        resolved.append(host)
        return resolve(host, port)

    monkeypatch.setattr(netguard, "resolve", counted)
    answer = submit(application, "/webhook", {"provider": "gas", "callbackUrl": url})
    assert answer.status.split()[0] == ("400" if lookups == 2 else "202")
    assert resolved == [url.split("/")[2]] * lookups


def test_a_fast_submit_is_the_limits_upsert_and_the_requests_insert(
    taken, enqueued, django_assert_num_queries
):
    """After the first request has triggered the drain: the submit limit's upsert and the
    request with its fetch rows, one statement each on PostgreSQL (the insert is its process's
    group statement, here a group of one, after the upsert's connection went back to the
    pool: no statement more for that) (SQLite: the upsert, then
    the request and its fetches, each in its own ``BEGIN IMMEDIATE`` transaction). The
    batcher's check after commit costs nothing: the process remembers the drain in flight."""
    assert submit(application, "/webhook").status == "202 Accepted"
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 7):
        assert submit(application, "/webhook").status == "202 Accepted"
    assert taken == [202, 202]
