"""Processing: rollups through the shared batcher, exactly once, and the rebuild check."""

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection
from django_q.conf import Conf
from pyroaring import BitMap

from analytics.models import Batch, DailyCount, DailyUserSet, Event, UserKey, UserStat
from analytics.selectors import event_pending_count, rollup_differences
from analytics.services import (
    EVENTS_BATCHER,
    events_collect,
    events_process_pending,
    rollups_rebuild,
)
from analytics.validation import event_validate
from core import batching
from tests.analytics.factories import registered_app
from tests.concurrency import run_in_threads
from tests.dbfaults import inserts_refused

BASE = datetime(2024, 2, 20, tzinfo=UTC)


def _events(count: int, *, seed: int = 7) -> list:
    rng = random.Random(seed)
    clean = []
    for _ in range(count):
        data = {
            "event": rng.choice(["click", "visit", "signup"]),
            "timestamp": (BASE + timedelta(minutes=rng.randrange(3 * 24 * 60))).isoformat(),
            "ipAddress": f"10.0.0.{rng.randrange(20)}",
            "metadata": {"browser": rng.choice(["Chrome", "Safari"]), "os": "Linux"},
        }
        if rng.random() < 0.7:
            data["userId"] = f"user{rng.randrange(40)}"
        if rng.random() < 0.8:
            data["device"] = rng.choice(["mobile", "desktop", "tablet"])
        event, errors = event_validate(data, client_ip="127.0.0.1", now=BASE + timedelta(days=9))
        assert not errors
        clean.append(event)
    return clean


def _expected(app_ids_and_events) -> tuple[dict, set, dict]:
    counts: Counter = Counter()
    users: set = set()
    stats: dict = defaultdict(lambda: [0, None])
    for app_id, event, event_id in app_ids_and_events:
        day = event.timestamp.date()
        counts[(app_id, event.event, day, event.device)] += 1
        users.add((app_id, event.event, day, event.user_key))
        if event.user_id is not None:
            stat = stats[(app_id, event.user_id)]
            stat[0] += 1
            if stat[1] is None or (event.timestamp, event_id) > stat[1][:2]:
                stat[1] = (event.timestamp, event_id, event.browser, event.ip_address)
    return dict(counts), users, {k: (v[0], v[1][2], v[1][3]) for k, v in stats.items()}


def _stored() -> tuple[dict, set, dict]:
    counts = {(r.app_id, r.event, r.day, r.device): r.count for r in DailyCount.objects.all()}
    keys = dict(UserKey.objects.values_list("id", "key"))
    users = set()
    for stored in DailyUserSet.objects.all():
        numbers = BitMap.deserialize(bytes(stored.users))
        assert stored.user_count == len(numbers)
        users |= {(stored.app_id, stored.event, stored.day, keys[n]) for n in numbers}
    stats = {
        (r.app_id, r.user_id): (r.total_events, r.browser, r.ip_address)
        for r in UserStat.objects.all()
    }
    return counts, users, stats


def _collect_all(events, app_ids) -> list:
    """Collect in chunks of 50, alternating apps; returns (app_id, event, id) in id order."""
    for index in range(0, len(events), 50):
        events_collect(
            app_id=app_ids[(index // 50) % len(app_ids)], events=events[index : index + 50]
        )
    ids = list(Event.objects.order_by("id").values_list("id", "app_id"))
    return [(app_id, events[i], event_id) for i, (event_id, app_id) in enumerate(ids)]


def test_processing_folds_every_event_once_into_the_three_rollups(db, owner):
    apps = [registered_app(owner, name=n)[0].pk for n in ("a", "b")]
    collected = _collect_all(_events(600), apps)
    assert events_process_pending(limit=97) == 600
    assert _stored() == _expected(collected)
    assert event_pending_count() == 0
    assert sum(Batch.objects.values_list("size", flat=True)) == 600
    assert events_process_pending() == 0  # nothing twice
    assert _stored() == _expected(collected)
    assert rollup_differences() == []


def test_a_claim_with_more_event_names_than_one_read_adds_to_every_stored_day(db, owner):
    """The stored bitmaps are read in parts of 500 event names; each part's days are merged."""
    app, _ = registered_app(owner)
    names = [f"event{i}" for i in range(1_100)]
    for user in ("u1", "u2", "u1"):
        data = [{"event": n, "userId": user, "timestamp": BASE.isoformat()} for n in names]
        clean = [event_validate(d, client_ip="127.0.0.1")[0] for d in data]
        events_collect(app_id=app.pk, events=[event for event in clean if event is not None])
        assert events_process_pending() == len(names)
    counts = set(DailyUserSet.objects.values_list("event", "user_count"))
    assert counts == {(n, 2) for n in names}
    assert rollup_differences() == []


def test_a_failure_inside_processing_folds_nothing_and_a_retry_folds_everything(db, owner):
    app, _ = registered_app(owner)
    collected = _collect_all(_events(120), [app.pk])

    # The batch record is the last write of the processing transaction, after the fold.
    with (
        inserts_refused(table=Batch._meta.db_table, after_rows=0, message="worker died"),
        pytest.raises(DatabaseError, match="worker died"),
    ):
        events_process_pending()
    assert (DailyCount.objects.count(), Batch.objects.count()) == (0, 0)
    assert event_pending_count() == 120
    assert events_process_pending() == 120
    assert _stored() == _expected(collected)


def test_rebuild_reports_and_repairs_a_damaged_rollup(db, owner):
    app, _ = registered_app(owner)
    _collect_all(_events(200), [app.pk])
    events_process_pending()
    events_collect(app_id=app.pk, events=_events(5, seed=3))  # pending: not part of the check
    damaged = DailyCount.objects.order_by("id")[0]
    DailyCount.objects.filter(pk=damaged.pk).update(count=damaged.count + 5)
    user_set = DailyUserSet.objects.order_by("id")[0]
    numbers = BitMap.deserialize(bytes(user_set.users))
    numbers.discard(numbers.min())
    DailyUserSet.objects.filter(pk=user_set.pk).update(users=numbers.serialize())
    differences = rollup_differences()
    assert {d.table for d in differences} == {"analytics_dailycount", "analytics_dailyuserset"}
    assert len(differences) == 3  # the wrong count both ways, the set missing a user
    assert rollups_rebuild() == differences
    assert rollup_differences() == []
    assert event_pending_count() == 5


@pytest.mark.django_db(transaction=True)
def test_two_processors_at_once_give_the_serial_totals():
    """Real threads, each with its own connection (PostgreSQL: the processor's advisory lock;
    SQLite: the IMMEDIATE write lock taken at BEGIN)."""
    from tests.analytics.factories import OwnerFactory

    owner = OwnerFactory.create()
    apps = [registered_app(owner, name=n)[0].pk for n in ("a", "b", "c")]
    collected = _collect_all(_events(5000, seed=11), apps)

    def processor(_: int) -> int:
        # A pause after each commit lets the other processor in: SQLite's busy handler
        # sleeps, so without it one thread can take every batch (still exact, but then the
        # test would not show two processors at work).
        return events_process_pending(limit=150, on_batch=lambda _: time.sleep(0.005))

    processed = run_in_threads(2, processor)
    assert sum(processed) == 5000
    assert min(processed) > 0  # both took part
    assert _stored() == _expected(collected)
    assert rollup_differences() == []


@pytest.mark.django_db(transaction=True)
def test_collecting_while_processing_loses_and_doubles_nothing():
    from tests.analytics.factories import OwnerFactory

    app, _ = registered_app(OwnerFactory())
    events = _events(3000, seed=5)
    done = threading.Event()
    errors: list[Exception] = []

    def writer() -> None:
        try:
            for index in range(0, len(events), 30):
                events_collect(app_id=app.pk, events=events[index : index + 30])
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    def processor() -> None:
        try:
            while not done.is_set():
                events_process_pending(limit=100)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer), threading.Thread(target=processor)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    events_process_pending()
    assert errors == []
    assert sum(DailyCount.objects.values_list("count", flat=True)) == 3000
    assert rollup_differences() == []


# --- the shared batcher ---------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(
        batching, "async_task", lambda func, *args, **kw: calls.append((func, args))
    )
    return calls


@pytest.mark.django_db(transaction=True)
def test_the_threshold_triggers_the_shared_batcher_once(enqueued, settings):
    from tests.analytics.factories import OwnerFactory

    cache.clear()
    settings.ANALYTICS_BATCH_SIZE = 10
    app, _ = registered_app(OwnerFactory())
    trigger = ("core.batching.batcher_run_task", ("analytics.services.EVENTS_BATCHER",))
    events_collect(app_id=app.pk, events=_events(9))
    assert enqueued == []
    events_collect(app_id=app.pk, events=_events(1))
    assert enqueued == [trigger]
    events_collect(app_id=app.pk, events=_events(10))  # one in flight: no second trigger
    assert enqueued == [trigger]
    assert batching.batcher_run_task("analytics.services.EVENTS_BATCHER") == 20
    assert sum(DailyCount.objects.values_list("count", flat=True)) == 20
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_the_trigger_task_runs_on_django_q_and_the_schedule_drains_the_rest(monkeypatch, settings):
    from analytics.tasks import events_process_task
    from tests.analytics.factories import OwnerFactory

    cache.clear()
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.ANALYTICS_BATCH_SIZE = 5
    app, _ = registered_app(OwnerFactory())
    events_collect(app_id=app.pk, events=_events(5))  # threshold: processed synchronously
    assert event_pending_count() == 0
    events_collect(app_id=app.pk, events=_events(2))  # below it: waits for the timeout
    assert event_pending_count() == 2
    assert events_process_task() == 2
    assert EVENTS_BATCHER.pending_queryset().count() == 0
    cache.clear()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_summary_outside_any_transaction_reads_one_snapshot_half_processed():
    """Outside a transaction the summary runs REPEATABLE READ (the request path)."""
    from analytics.selectors import event_summary_get
    from tests.analytics.factories import OwnerFactory

    owner = OwnerFactory.create()
    app, _ = registered_app(owner)
    collected = _collect_all(_events(400, seed=2), [app.pk])
    events_process_pending(max_events=150)
    assert connection.in_atomic_block is False
    summary = event_summary_get(owner=owner, event="click", start=None, end=None)
    clicks = [event for _, event, _ in collected if event.event == "click"]
    assert summary.count == len(clicks)
    assert summary.unique_users == len({event.user_key for event in clicks})


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_user_stats_outside_any_transaction_read_one_snapshot_half_processed():
    """As the summary: REPEATABLE READ on the request path, the pending events found by id
    above the watermark (no index by user, decision 0068)."""
    from analytics.selectors import user_stats_get
    from tests.analytics.factories import OwnerFactory

    owner = OwnerFactory.create()
    app, _ = registered_app(owner)
    collected = _collect_all(_events(400, seed=3), [app.pk])
    events_process_pending(max_events=150)
    assert 0 < event_pending_count() < 400
    assert connection.in_atomic_block is False
    per_user = Counter(event.user_id for _, event, _ in collected if event.user_id)
    assert len(per_user) == 40
    for user_id, total in per_user.items():
        assert user_stats_get(owner=owner, user_id=user_id).total_events == total


@pytest.mark.django_db
def test_an_app_with_events_cannot_be_deleted_and_its_rows_stay_whole():
    """The events' app has no database constraint (decision 0055): Django's
    PROTECT still refuses to delete an app that has events, and nothing is removed."""
    from django.db.models import ProtectedError

    from analytics.models import App

    app, _key = registered_app()
    events_collect(app_id=app.pk, events=_events(6, seed=5))
    events_process_pending()
    users = DailyUserSet.objects.filter(app=app).count()
    assert users > 0
    with pytest.raises(ProtectedError):
        App.objects.get(pk=app.pk).delete()
    assert Event.objects.filter(app=app).count() == 6
    assert DailyUserSet.objects.filter(app=app).count() == users
