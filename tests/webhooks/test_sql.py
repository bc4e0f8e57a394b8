"""webhooks.sql: the one-statement submit writes exactly what the ORM path writes; the mock
providers' settings read back as stored; the claims lease what is due (one statement each on
PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from core.groupcommit import GroupCommit
from core.sql import rows_insert
from tests.concurrency import run_in_threads
from tests.webhooks.factories import collection_make
from webhooks import services, sql
from webhooks.claims import delivery_claim_due, fetch_claim_due
from webhooks.models import (
    Attempt,
    CollectionRequest,
    MockProvider,
    ProviderBreaker,
    ProviderFetch,
)
from webhooks.sql import mock_provider_row

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CALLBACK = "https://client.example/hook"


def _stored(request_id) -> tuple[dict, list[dict]]:
    request = model_to_dict(CollectionRequest.objects.get(pk=request_id))
    fetches = [
        {k: v for k, v in model_to_dict(f).items() if k not in ("id", "request")}
        for f in ProviderFetch.objects.filter(request_id=request_id).order_by("provider")
    ]
    return request, fetches


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_one_statement_submit_stores_what_the_orm_stores(monkeypatch, settings):
    settings.WEBHOOKS_CALLBACK_ALLOWED_NETWORKS = "0.0.0.0/0"
    monkeypatch.setattr("webhooks.services.clock.now", lambda: NOW)
    by_sql = services.collection_create(providers=["gas", "internet"], callback_url=CALLBACK)
    monkeypatch.setattr(sql, "request_with_fetches_insert", lambda request: False)
    by_orm = services.collection_create(providers=["gas", "internet"], callback_url=CALLBACK)

    assert by_sql.pk != by_orm.pk
    assert _stored(by_sql.pk) == _stored(by_orm.pk)
    request, fetches = _stored(by_sql.pk)
    assert request["providers"] == ["gas", "internet"]
    assert request["status"] == "collecting"
    assert request["callback_host"] == "client.example"
    assert request["created_at"] == NOW
    assert request["deadline_at"] > NOW
    assert [(f["provider"], f["state"], f["attempts"], f["next_attempt_at"]) for f in fetches] == [
        ("gas", "pending", 0, NOW),
        ("internet", "pending", 0, NOW),
    ]
    # The returned object is a saved row, as the ORM path's is.
    assert by_sql._state.adding is False
    by_sql.refresh_from_db()
    assert by_sql.deadline_at == NOW + timedelta(seconds=settings.WEBHOOKS_COLLECT_DEADLINE)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_one_statement_submit_is_one_query_and_commits_both_rows(django_assert_num_queries):
    request = CollectionRequest(
        providers=["gas", "internet"],
        callback_url=CALLBACK,
        callback_host="client.example",
        deadline_at=NOW + timedelta(minutes=5),
        created_at=NOW,
    )
    with django_assert_num_queries(1):
        assert sql.request_with_fetches_insert(request) is True
    assert ProviderFetch.objects.filter(request_id=request.pk).count() == 2


@pytest.mark.django_db
def test_sqlite_takes_the_orm_path(settings):
    from django.db import connection

    if connection.vendor == "postgresql":
        pytest.skip("the SQLite path")
    request = CollectionRequest(providers=["gas"], callback_url=CALLBACK)
    assert sql.request_with_fetches_insert(request) is False
    assert CollectionRequest.objects.count() == 0


@pytest.mark.django_db
def test_mock_provider_row_reads_the_settings_as_stored():
    assert mock_provider_row(name="gas") is None
    until = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
    MockProvider.objects.create(name="gas", failure_rate=0.25, outage_until=until, latency_ms=40)
    MockProvider.objects.create(name="internet", failure_rate=1, latency_ms=0)
    assert mock_provider_row(name="gas") == (0.25, until, 40)
    assert mock_provider_row(name="internet") == (1.0, None, 0)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_of_a_process_share_statements_and_keep_their_fetches(monkeypatch):
    """12 threads, 5 submits each, as requests (each gives its connection back at its end):
    every request stored once with one pending fetch per provider, the fetch ids in the order
    of the request's providers; the groups the threads formed hold all 60."""
    sizes: list[int] = []

    def recorded(group):
        sizes.append(len(group))
        return services._requests_store(group)

    monkeypatch.setattr(services, "_SUBMITS", GroupCommit(recorded, max_items=64))
    orders = (["gas", "internet"], ["internet", "gas"], ["internet"])

    def client(index: int) -> list:
        made = []
        for turn in range(5):
            providers = orders[(index + turn) % 3]
            request = services.collection_create(providers=providers, callback_url=CALLBACK)
            made.append((request.pk, providers))
            connection.close()
        return made

    made = [pair for done in run_in_threads(12, client) for pair in done]
    assert CollectionRequest.objects.count() == 60
    for request_id, providers in made:
        fetches = ProviderFetch.objects.filter(request_id=request_id).order_by("id")
        assert [(f.provider, f.state) for f in fetches] == [(p, "pending") for p in providers]
    assert sum(sizes) == 60


def _attempts(request: CollectionRequest) -> list[Attempt]:
    common = {
        "request": request,
        "started_at": NOW,
        "finished_at": NOW + timedelta(microseconds=1234),
    }
    return [
        Attempt(kind="fetch", provider="gas", number=1, outcome="retry", status_code=503,
                response_excerpt="busy «ü» 😀", error="HTTP 503",
                next_attempt_at=NOW + timedelta(seconds=1.5), **common),
        Attempt(kind="fetch", provider="internet", number=2, outcome="failed", status_code=None,
                response_excerpt="", error="ConnectionError: refused", next_attempt_at=None,
                **common),
        Attempt(kind="delivery", provider="", number=1, outcome="succeeded", status_code=200,
                response_excerpt='{"ok": true}\n', error="", next_attempt_at=None, **common),
    ]  # fmt: skip


def _attempt_rows(request: CollectionRequest) -> list[dict]:
    stored = Attempt.objects.filter(request=request).order_by("kind", "provider")
    return [
        {k: v for k, v in model_to_dict(a).items() if k not in ("id", "request")} for a in stored
    ]


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_one_statement_attempts_are_the_rows_the_orm_writes(monkeypatch):
    by_sql = services.collection_create(providers=["gas"], callback_url=CALLBACK)
    by_orm = services.collection_create(providers=["gas"], callback_url=CALLBACK)
    rows_insert(_attempts(by_sql))
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the ORM's bulk insert
    rows_insert(_attempts(by_orm))
    monkeypatch.undo()

    rows = _attempt_rows(by_sql)
    assert rows == _attempt_rows(by_orm)
    assert [(r["kind"], r["provider"], r["number"]) for r in rows] == [
        ("delivery", "", 1),
        ("fetch", "gas", 1),
        ("fetch", "internet", 2),
    ]
    assert (rows[1]["response_excerpt"], rows[1]["next_attempt_at"]) == (
        "busy «ü» 😀",
        NOW + timedelta(seconds=1.5),
    )
    assert rows[1]["finished_at"] == NOW + timedelta(microseconds=1234)
    assert rows[2]["status_code"] is None


@pytest.mark.django_db
def test_a_claim_leases_the_due_unleased_fetches_only(settings):
    """On PostgreSQL one statement leases and returns them; SQLite's transaction the same."""
    now = datetime.now(tz=UTC)
    requests = [collection_make() for _ in range(3)]
    later, leased = ProviderFetch.objects.filter(request=requests[0]).order_by("provider")
    later.next_attempt_at = now + timedelta(minutes=5)
    leased.claimed_until = now + timedelta(minutes=5)
    ProviderFetch.objects.bulk_update([later, leased], ["next_attempt_at", "claimed_until"])

    jobs = fetch_claim_due(now=now + timedelta(seconds=1), limit=10)

    expected = ProviderFetch.objects.exclude(request=requests[0])
    assert sorted((j.fetch_id, j.request_id, j.provider) for j in jobs) == sorted(
        expected.values_list("pk", "request_id", "provider")
    )
    lease = now + timedelta(seconds=1 + settings.WEBHOOKS_LEASE_SECONDS)
    assert set(expected.values_list("claimed_until", flat=True)) == {lease}
    assert fetch_claim_due(now=now + timedelta(seconds=2), limit=10) == []  # all leased now


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_claims_on_postgresql_are_one_statement_each(django_assert_num_queries):
    collection_make()
    ProviderBreaker.objects.create(provider="gas")
    ProviderBreaker.objects.create(provider="internet")
    later = datetime.now(tz=UTC) + timedelta(seconds=1)
    # The claim; both providers' breakers read together (they exist: none is inserted).
    with django_assert_num_queries(2):
        assert len(fetch_claim_due(now=later, limit=10)) == 2
    with django_assert_num_queries(1):
        assert delivery_claim_due(now=later, limit=10) == []


@pytest.mark.django_db
def test_a_claim_for_a_provider_without_a_breaker_creates_it_closed(django_assert_num_queries):
    collection_make()
    ProviderBreaker.objects.create(provider="gas", state="open", open_until=NOW)
    later = datetime.now(tz=UTC) + timedelta(seconds=1)
    # The claim (a transaction on SQLite), the breakers read, internet's inserted and read, the
    # probe taken.
    with django_assert_num_queries(5 if connection.vendor == "postgresql" else 9):
        jobs = fetch_claim_due(now=later, limit=10)

    assert [(job.provider, job.probe) for job in sorted(jobs, key=lambda j: j.provider)] == [
        ("gas", True),  # its cool-down over: the probe
        ("internet", False),
    ]
    breakers = dict(ProviderBreaker.objects.values_list("provider", "state"))
    assert breakers == {"gas": "half_open", "internet": "closed"}
