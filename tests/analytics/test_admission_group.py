"""A single collect on PostgreSQL with the counters in the database: the group's statement
(analytics.admission_group). One statement per key in a group: the key live, the counter
raised by the group's size, the events stored in arrival order up to the limit."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from analytics import admission_group
from analytics.admission import Admission, api_key_verify, collect_admit
from analytics.admission_group import Arrival, admit_group, arrival
from analytics.models import ApiKey, Event
from analytics.services import events_collect
from analytics.validation import event_validate
from core import ratelimit
from core.groupcommit import GroupCommit
from core.models import RateLimitCounter
from tests.analytics.factories import OwnerFactory, registered_app
from tests.concurrency import run_in_threads

pytestmark = pytest.mark.postgres_only
WINDOW_START = 1_699_999_980  # a multiple of 60


@pytest.fixture
def counters_in_the_database(settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: WINDOW_START + 10.0))


def _arrivals(identity, names: list[str]) -> list[Arrival]:
    arrivals = []
    for name in names:
        event, errors = event_validate({"event": name, "userId": "u1"}, client_ip="10.0.0.1")
        assert event is not None, errors
        arrivals.append(arrival(identity, event, timezone.now()))
    return arrivals


def _key(owner):
    _, raw = registered_app(owner)
    identity = api_key_verify(raw=raw)
    assert identity is not None
    return identity


def _counter(identity) -> int:
    return RateLimitCounter.objects.get(key=f"analytics.collect:{identity.key_id}").count


def _outcomes(admissions) -> list[tuple]:
    return [
        (
            a.live,
            a.stored,
            a.limit and (a.limit.allowed, a.limit.count, a.limit.retry_after_seconds),
        )
        for a in admissions
    ]


def test_a_group_is_stored_in_arrival_order_up_to_the_limit(
    db, counters_in_the_database, settings, django_assert_num_queries
):
    settings.ANALYTICS_COLLECT_RATE = 6
    identity = _key(OwnerFactory())
    admit_group(_arrivals(identity, ["first"]))
    with django_assert_num_queries(1):
        admissions = admit_group(_arrivals(identity, ["a", "b", "c", "d", "e", "f", "g"]))
    assert _outcomes(admissions) == [
        (True, 1, (True, 2, 50)),
        (True, 1, (True, 3, 50)),
        (True, 1, (True, 4, 50)),
        (True, 1, (True, 5, 50)),
        (True, 1, (True, 6, 50)),
        (True, 0, (False, 7, 50)),
        (True, 0, (False, 8, 50)),
    ]
    assert list(Event.objects.order_by("id").values_list("event", flat=True)) == [
        "first", "a", "b", "c", "d", "e",
    ]  # fmt: skip
    assert _counter(identity) == 8
    stored = list(Event.objects.order_by("id").values_list("received_at", flat=True))
    assert stored == sorted(stored)


def test_a_revoked_key_stores_and_counts_nothing(db, counters_in_the_database, settings):
    settings.ANALYTICS_COLLECT_RATE = 6
    identity = _key(OwnerFactory())
    ApiKey.objects.update(revoked_at=timezone.now() - timedelta(seconds=1))
    admissions = admit_group(_arrivals(identity, ["a", "b"]))
    assert _outcomes(admissions) == [(False, 0, None), (False, 0, None)]
    assert not Event.objects.exists()
    assert not RateLimitCounter.objects.exists()


def test_without_a_limit_everything_is_stored_and_nothing_counted(
    db, counters_in_the_database, settings
):
    settings.ANALYTICS_COLLECT_RATE = 0
    identity = _key(OwnerFactory())
    admissions = admit_group(_arrivals(identity, ["a", "b", "c"]))
    assert _outcomes(admissions) == [(True, 1, None)] * 3
    assert Event.objects.count() == 3
    assert not RateLimitCounter.objects.exists()


def test_each_key_of_a_group_has_its_own_statement_and_counter(
    db, counters_in_the_database, settings, django_assert_num_queries
):
    settings.ANALYTICS_COLLECT_RATE = 2
    owner = OwnerFactory()
    one, other = _key(owner), _key(owner)
    first, second = _arrivals(one, ["x1", "x2", "x3"]), _arrivals(other, ["y1"])
    mixed = [first[0], second[0], first[1], first[2]]
    with django_assert_num_queries(2):
        admissions = admit_group(mixed)
    assert _outcomes(admissions) == [
        (True, 1, (True, 1, 50)),
        (True, 1, (True, 1, 50)),
        (True, 1, (True, 2, 50)),
        (True, 0, (False, 3, 50)),
    ]
    assert (_counter(one), _counter(other)) == (3, 1)
    assert sorted(Event.objects.values_list("event", flat=True)) == ["x1", "x2", "y1"]


@pytest.mark.django_db(transaction=True)
def test_threads_of_one_process_share_statements_and_store_exactly_the_limit(
    counters_in_the_database, settings, monkeypatch
):
    """24 threads (three times the pool's connections), 10 single events each, a limit of 101:
    every request got its own count (1 to 240, each once), exactly the first 101
    counts were stored, and the counter saw all 240."""
    settings.ANALYTICS_COLLECT_RATE = 101
    sizes: list[int] = []

    def recorded(arrivals):
        sizes.append(len(arrivals))
        return admit_group(arrivals)

    monkeypatch.setattr(admission_group, "_GROUPS", GroupCommit(recorded, max_items=64))
    identity = _key(OwnerFactory())
    event, _ = event_validate({"event": "click"}, client_ip="10.0.0.1")
    assert event is not None

    def client(_: int) -> list:
        admissions = []
        for _ in range(10):
            admissions.append(collect_admit(identity=identity, events=[event]))
            connection.close()  # as a request's end gives its connection back to the pool
        return admissions

    admissions = [a for done in run_in_threads(24, client) for a in done]
    counts = sorted(a.limit.count for a in admissions)
    assert counts == list(range(1, 241))
    assert sorted(a.limit.count for a in admissions if a.stored) == list(range(1, 102))
    assert all(a.stored == int(a.limit.allowed) for a in admissions)
    assert Event.objects.count() == 101
    assert _counter(identity) == 240
    assert sum(sizes) == 240
    assert max(sizes) <= 64


def test_inside_a_transaction_an_event_runs_alone(
    db, counters_in_the_database, settings, monkeypatch
):
    """Inside the test's transaction, on this thread's connection, never in a group."""
    settings.ANALYTICS_COLLECT_RATE = 5
    grouped: GroupCommit[Arrival, Admission] = GroupCommit(
        lambda items: pytest.fail("grouped"), max_items=4
    )
    monkeypatch.setattr(admission_group, "_GROUPS", grouped)
    identity = _key(OwnerFactory())
    event, _ = event_validate({"event": "click"}, client_ip="10.0.0.1")
    assert event is not None
    admission = collect_admit(identity=identity, events=[event])
    assert _outcomes([admission]) == [(True, 1, (True, 1, 50))]


def test_a_grouped_event_is_stored_as_the_batch_path_stores_it(
    db, counters_in_the_database, settings
):
    """Every column of every kind of value (absent ones, metadata, an address, a set time,
    characters JSON escapes) as events_collect stores the same events."""
    settings.ANALYTICS_COLLECT_RATE = 0
    identity = _key(OwnerFactory())
    bodies = [
        {"event": "plain"},
        {
            "event": 'quote " back \\ line\u2028 é 😀',
            "userId": "u7",
            "device": "mobile",
            "url": "https://example.com/a?b=c",
            "referrer": "https://example.org/",
            "ipAddress": "2001:db8::1",
            "timestamp": "2026-03-04T05:06:07.891234Z",
            "metadata": {"browser": "Firefox", "os": "Linux", "nested": {"n": [1, 2.5, None]}},
        },
    ]
    events = []
    for body in bodies:
        event, errors = event_validate(body, client_ip="10.0.0.9")
        assert event is not None, errors
        events.append(event)
    received = timezone.now()
    admissions = admit_group([arrival(identity, e, received) for e in events])
    assert _outcomes(admissions) == [(True, 1, None), (True, 1, None)]
    events_collect(app_id=identity.app_id, events=events)
    columns = [f.name for f in Event._meta.fields if f.name not in ("id", "received_at")]
    rows = list(Event.objects.order_by("id").values_list(*columns))
    assert rows[:2] == rows[2:]
    assert rows[1][columns.index("metadata")]["nested"] == {"n": [1, 2.5, None]}
    assert str(rows[1][columns.index("timestamp")]) == "2026-03-04 05:06:07.891234+00:00"


def test_a_key_whose_statement_fails_fails_alone_and_the_others_stand(
    db, counters_in_the_database, settings
):
    """A group of two keys whose second statement fails: the first key's events are stored
    and answered, the second key's arrivals get the error (their views answer it)."""
    settings.ANALYTICS_COLLECT_RATE = 5
    owner = OwnerFactory()
    one, other = _key(owner), _key(owner)
    runs: list[int] = []

    def second_fails(execute, sql, params, many, context):
        if sql.startswith("WITH live AS"):
            runs.append(1)
            if len(runs) == 2:
                raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    mixed = [*_arrivals(one, ["a"]), *_arrivals(other, ["b"]), *_arrivals(one, ["c"])]
    with connection.execute_wrapper(second_fails):
        outcomes = admit_group(mixed)
    assert _outcomes([outcomes[0], outcomes[2]]) == [
        (True, 1, (True, 1, 50)),
        (True, 1, (True, 2, 50)),
    ]
    assert isinstance(outcomes[1], OperationalError)
    assert list(Event.objects.order_by("id").values_list("event", flat=True)) == ["a", "c"]
