"""The guarantee under real concurrency: real threads, real connections, both databases.

Every thread works through its own database connection (Django gives each thread one) and
closes it at the end. A monitor thread checks the invariant from yet another connection, in a
loop, while the load runs.
"""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.test import override_settings
from rest_framework.test import APIClient

from core.errors import ApplicationError
from streams.models import RefusalHour, StreamSession, Viewer
from streams.selectors import session_active_q, viewer_list_over_limit
from streams.services import (
    session_heartbeat,
    session_start,
    session_stop,
    viewer_set_limit,
)
from tests.conftest import _user_with_token
from tests.streams.factories import ViewerFactory

pytestmark = pytest.mark.django_db(transaction=True)

BARRIER_TIMEOUT_SECONDS = 60


class Monitor:
    """Polls ``viewer_list_over_limit`` from its own connection until stopped."""

    def __init__(self, *, limit: int | None = None) -> None:
        self.limit = limit
        self.violations: list = []
        self.checks = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            while True:
                stopping = self._stop.is_set()
                over = viewer_list_over_limit(limit=self.limit)
                self.checks += 1
                if over:
                    self.violations.append(over)
                if stopping:
                    return
                self._stop.wait(0.002)
        except Exception as exc:
            self.errors.append(repr(exc))
        finally:
            connection.close()

    def __enter__(self) -> "Monitor":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def _run_together[T](workers: Sequence[Callable[[], T]]) -> list[T | str]:
    """Run the callables in threads released at once by a barrier; results in order (the
    text of its exception for a callable that raised)."""
    barrier = threading.Barrier(len(workers), timeout=BARRIER_TIMEOUT_SECONDS)
    results: list[T | str] = ["error: did not run"] * len(workers)

    def run(index: int, work: Callable[[], T]) -> None:
        try:
            barrier.wait()
            results[index] = work()
        except Exception as exc:
            results[index] = f"error: {exc!r}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _start_status(**kwargs) -> int:
    try:
        session_start(**kwargs)
    except ApplicationError as exc:
        return exc.status_code
    return 201


def _active_count(user_id: str) -> int:
    return StreamSession.objects.filter(session_active_q(), viewer__user_id=user_id).count()


def _refusal_hours_total() -> int:
    """Refusals counted per hour (all hours: a storm may straddle one's end)."""
    return RefusalHour.objects.aggregate(total=Sum("count"))["total"] or 0


def _http_clients(count: int) -> list[APIClient]:
    """One service account (hashing a password per account would dominate the test), one
    client per thread."""
    _, token = _user_with_token("svc", perms=("streams.manage_sessions",))
    clients = [APIClient() for _ in range(count)]
    for client in clients:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return clients


def test_fifty_simultaneous_http_starts_limit_three():
    ViewerFactory(user_id="storm", max_streams=3)
    clients = _http_clients(50)

    def start(client: APIClient, device: str) -> Callable[[], int]:
        def work() -> int:
            body = {"user_id": "storm", "device_id": device}
            return client.post("/api/streams/sessions", body, format="json").status_code

        return work

    with Monitor() as monitor:
        statuses = _run_together([start(c, f"dev-{i}") for i, c in enumerate(clients)])
    assert Counter(statuses) == {201: 3, 409: 47}
    assert _active_count("storm") == 3
    assert Viewer.objects.get(user_id="storm").refusal_count == 47
    assert _refusal_hours_total() == 47
    assert StreamSession.objects.count() == 3
    assert monitor.errors == []
    assert monitor.violations == []
    assert monitor.checks >= 1


def test_fifty_simultaneous_service_starts_limit_three():
    ViewerFactory(user_id="storm", max_streams=3)
    workers: list[Callable[[], int]] = [
        partial(_start_status, user_id="storm", device_id=f"dev-{i}") for i in range(50)
    ]
    with Monitor() as monitor:
        statuses = _run_together(workers)
    assert Counter(statuses) == {201: 3, 409: 47}
    assert _active_count("storm") == 3
    assert monitor.errors == []
    assert monitor.violations == []


@pytest.mark.parametrize(("before", "after"), [(3, 5), (5, 2)])
def test_limit_changed_mid_storm_never_exceeds_the_larger_limit(before, after):
    ViewerFactory(user_id="storm", max_streams=before)
    larger = max(before, after)

    def change_limit() -> str:
        viewer_set_limit(user_id="storm", max_streams=after)
        return "changed"

    workers: list[Callable[[], int | str]] = [
        partial(_start_status, user_id="storm", device_id=f"dev-{i}") for i in range(50)
    ]
    workers.insert(25, change_limit)
    with Monitor(limit=larger) as monitor:
        results = _run_together(workers)
    assert results[25] == "changed"
    statuses = Counter(results[:25] + results[26:])
    assert set(statuses) <= {201, 409}
    assert sum(statuses.values()) == 50
    assert min(before, after) <= statuses[201] <= larger
    assert _active_count("storm") == statuses[201]
    assert Viewer.objects.get(user_id="storm").max_streams == after
    assert monitor.errors == []
    assert monitor.violations == []


def test_start_stop_cycles_twenty_threads_five_viewers_never_exceed_any_limit():
    limits = {"v1": 1, "v2": 2, "v3": 3, "v4": 2, "v5": 1}
    for user_id, limit in limits.items():
        ViewerFactory(user_id=user_id, max_streams=limit)
    cycles = 12

    def cycle(thread_index: int) -> Callable[[], Counter]:
        user_id = f"v{thread_index % 5 + 1}"

        def work() -> Counter:
            outcomes: Counter = Counter()
            for n in range(cycles):
                try:
                    started = session_start(user_id=user_id, device_id=f"t{thread_index}")
                except ApplicationError as exc:
                    outcomes[exc.status_code] += 1
                    continue
                outcomes[201 if started.created else 200] += 1
                if n % 2 == 0:
                    session_heartbeat(session_id=started.session.id)
                session_stop(session_id=started.session.id)
            return outcomes

        return work

    with Monitor() as monitor:
        results = _run_together([cycle(i) for i in range(20)])
    counters = [r for r in results if isinstance(r, Counter)]
    assert len(counters) == len(results), results
    totals = sum(counters, Counter())
    assert set(totals) <= {201, 409}
    assert totals[201] + totals[409] == 20 * cycles
    assert totals[201] >= 5 * cycles  # each viewer's slots were really used
    assert monitor.errors == []
    assert monitor.violations == []
    assert monitor.checks >= 2
    assert StreamSession.objects.filter(session_active_q()).count() == 0
    refusals = dict(Viewer.objects.values_list("user_id", "refusal_count"))
    assert sum(refusals.values()) == totals[409]
    assert _refusal_hours_total() == totals[409]


@pytest.mark.parametrize("retry_by", ["session_id", "device_id"])
def test_simultaneous_retries_take_one_slot(retry_by):
    ViewerFactory(user_id="retry", max_streams=3)
    key = {"session_id": uuid.uuid4()} if retry_by == "session_id" else {"device_id": "tv"}

    def work() -> tuple[bool, str]:
        started = session_start(user_id="retry", **key)
        return started.created, str(started.session.id)

    results = _run_together([work for _ in range(20)])
    pairs = [r for r in results if isinstance(r, tuple)]
    assert len(pairs) == len(results), results
    assert Counter(created for created, _ in pairs) == {True: 1, False: 19}
    assert len({session_id for _, session_id in pairs}) == 1
    assert StreamSession.objects.count() == 1
    assert _active_count("retry") == 1


@override_settings(STREAMS_LEASE_SECONDS=2)
def test_heartbeat_waits_for_the_viewer_lock_and_judges_expiry_after_it():
    """A heartbeat that arrives while a start holds the viewer's lock is judged after that
    start, by the clock of that moment: a lease that ran out during the wait is not revived
    (410), so a slot the start may have reused stays the start's. (A two-second lease: the
    heartbeat arrives in time, the lock is released after the lease has run out.)"""
    ViewerFactory(user_id="alice", max_streams=1)
    session_id = session_start(user_id="alice").session.id
    started = time.monotonic()
    holding, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                Viewer.objects.select_for_update().get(user_id="alice")
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def heartbeat() -> None:
        holding.wait(10)
        try:
            session_heartbeat(session_id=session_id)
            outcome["status"] = 200
        except ApplicationError as exc:
            outcome["status"] = exc.status_code
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    beater = threading.Thread(target=heartbeat)
    holder.start()
    beater.start()
    assert holding.wait(10)
    beater.join(timeout=0.3)
    assert time.monotonic() - started < 2, "too slow to arrive within the lease"
    assert beater.is_alive(), "the heartbeat did not wait for the viewer's lock"
    time.sleep(max(0.0, 2.2 - (time.monotonic() - started)))
    release.set()
    holder.join(timeout=10)
    beater.join(timeout=10)
    assert outcome == {"status": 410}
    assert _active_count("alice") == 0
