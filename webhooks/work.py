"""The work engine: claim what is due, run it with bounded concurrency, record what happened.

A pass (``work_run_due``) expires requests past their collect deadline, claims due fetches
(admitted by each provider's circuit breaker) and due deliveries, each claim setting a lease,
``claimed_until`` (``webhooks.claims``: one ``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP
LOCKED)`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises claims). The calls are then
made together, outside any transaction and without the database (``webhooks.http.calls_make``:
libcurl, at most ``WEBHOOKS_CONCURRENCY`` in flight, connections kept alive). Once they have
all returned, their outcomes are recorded together, in one transaction (``outcomes_record``,
``webhooks.recording``): the requests locked once in key order, the ``Attempt`` rows written and
the work moved on (retry time, fetched data, the delivery once every fetch has ended, the
request's status); then the providers' breakers learn the outcomes (decision 0044).

``work_drain`` runs passes while work falls due soon (decision 0042); ``WORK_BATCHER``
(core.batching) starts it right after a commit that made work due.
"""

import json
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from core.batching import Batcher
from core.sql import rows_insert, rows_update
from webhooks import clock
from webhooks.claims import DeliveryJob, FetchJob, delivery_claim_due, fetch_claim_due
from webhooks.http import CallbackCall, FetchCall, HttpOutcome, calls_make
from webhooks.models import (
    CollectionRequest,
    CollectionStatus,
    Delivery,
    FetchState,
    ProviderFetch,
)
from webhooks.recording import (
    UNKNOWN_PROVIDER,
    DeliveryResult,
    FetchResult,
    breakers_record,
    deliveries_store,
    fetch_outcomes_store,
)
from webhooks.records import FetchRecord, RequestRecord, fetches_of, requests_locked

WORK_BATCHER = Batcher(
    ref="webhooks.work.WORK_BATCHER",
    pending="webhooks.selectors.work_due_soon",
    threshold_setting="WEBHOOKS_SWEEP_THRESHOLD",
    processor="webhooks.work.work_drain",
    # Refreshed by the drain at every pass (work_drain), so it must outlive one pass only,
    # which holds its work no longer than a lease. A drain task that died (a worker killed, a
    # restart) frees the way for the next one a lease after its last pass at most, not after
    # the whole budget of a drain (decision 0070).
    lock_seconds=settings.WEBHOOKS_LEASE_SECONDS,
)


# --- outcomes ---------------------------------------------------------------------------------


def outcomes_record(
    *, fetches: Sequence[FetchResult] = (), deliveries: Sequence[DeliveryResult] = ()
) -> None:
    """Record a pass's outcomes in one transaction, the requests locked once (queuing the
    delivery of each request none of whose fetches is pending any more); then tell the
    breakers, after commit."""
    if not fetches and not deliveries:
        return
    now = clock.now()
    with transaction.atomic():
        ids = [job.request_id for job, _ in deliveries] + [job.request_id for job, _ in fetches]
        requests = requests_locked(ids)
        deliveries_store(results=deliveries, now=now, requests=requests)
        recorded, ended = fetch_outcomes_store(results=fetches, now=now, requests=requests)
        collections_collect_end(requests=ended, now=now)
    breakers_record(results=recorded, now=now)


def collections_collect_end(*, requests: Sequence[RequestRecord], now: datetime) -> None:
    """For each (locked) collecting request none of whose fetches is pending: queue its one
    delivery, ``completed`` with every provider's data, or ``failed`` with what was collected."""
    collecting = {r.pk: r for r in requests if r.status == CollectionStatus.COLLECTING}
    if not collecting:
        return
    fetches: dict[uuid.UUID, dict[str, FetchRecord]] = {pk: {} for pk in collecting}
    for fetch in fetches_of(collecting):
        fetches[fetch.request_id][fetch.provider] = fetch
    deliveries, finished = [], []
    for pk, request in collecting.items():
        own = fetches[pk]
        if any(f.state == FetchState.PENDING for f in own.values()):
            continue
        deliveries.append(_delivery_new(request=request, fetches=own, now=now))
        finished.append(request)
    rows_insert(deliveries)
    rows_update(finished, ["status", "finished_at"], model=CollectionRequest)
    if deliveries:
        WORK_BATCHER.notify()


def _delivery_new(
    *, request: RequestRecord, fetches: dict[str, FetchRecord], now: datetime
) -> Delivery:
    """The request's delivery (and its status moved on: delivering, or failed)."""
    complete = all(f.state == FetchState.FETCHED for f in fetches.values())
    data = {
        name: fetches[name].data
        for name in request.providers
        if name in fetches and fetches[name].state == FetchState.FETCHED
    }
    body = {"id": str(request.pk), "status": "completed" if complete else "failed", "data": data}
    request.status = CollectionStatus.DELIVERING if complete else CollectionStatus.FAILED
    request.finished_at = None if complete else now
    return Delivery(
        request_id=request.pk,
        webhook_id=f"msg_{uuid.uuid4().hex}",
        body=json.dumps(body, separators=(",", ":")),
        next_attempt_at=now,
        window_ends_at=now + timedelta(seconds=settings.WEBHOOKS_DELIVERY_WINDOW),
        created_at=now,
    )


def collection_expire_due(*, now: datetime) -> int:
    """Fail the fetches still pending of requests past their collect deadline."""
    ids = list(
        CollectionRequest.objects.filter(
            status=CollectionStatus.COLLECTING, deadline_at__lte=now
        ).values_list("pk", flat=True)[: settings.WEBHOOKS_CLAIM_BATCH]
    )
    for request_id in ids:
        with transaction.atomic():
            request = requests_locked([request_id]).get(request_id)
            if request is None or request.status != CollectionStatus.COLLECTING:
                continue
            ProviderFetch.objects.filter(request_id=request_id, state=FetchState.PENDING).update(
                state=FetchState.FAILED,
                next_attempt_at=None,
                claimed_until=None,
                last_error="collect deadline reached",
            )
            collections_collect_end(requests=[request], now=now)
    return len(ids)


# --- passes -----------------------------------------------------------------------------------


Answered = tuple[FetchJob | DeliveryJob, HttpOutcome]


@dataclass
class _Pass:
    """A pass's claimed jobs, their calls in flight on the calls thread (or already made)."""

    jobs: list[FetchJob | DeliveryJob]
    answered: list[Answered]  # without a call (an unknown provider)
    called: list[FetchJob | DeliveryJob]
    outcomes: "Future[list[HttpOutcome]] | list[HttpOutcome]"

    def record(self) -> int:
        """Wait for the calls, then record every outcome. Returns the jobs handled."""
        outcomes = self.outcomes if isinstance(self.outcomes, list) else self.outcomes.result()
        _record([*self.answered, *zip(self.called, outcomes, strict=True)])
        return len(self.jobs)


def _pass_start(jobs: list[FetchJob | DeliveryJob], *, in_background: bool) -> _Pass:
    """Start the jobs' calls: here (waiting for them), or on the calls thread."""
    answered: list[Answered] = []
    calls: list[FetchCall | CallbackCall] = []
    called: list[FetchJob | DeliveryJob] = []
    for job in jobs:
        if isinstance(job, DeliveryJob):
            calls.append(CallbackCall(job.url, job.webhook_id, job.body))
        elif (url := settings.WEBHOOKS_PROVIDERS.get(job.provider)) is not None:
            calls.append(FetchCall(url))
        else:
            now = clock.now()
            answered.append((job, HttpOutcome(now, now, status_code=None, error=UNKNOWN_PROVIDER)))
            continue
        called.append(job)
    concurrency = settings.WEBHOOKS_CONCURRENCY
    if in_background and calls:
        outcomes: Future[list[HttpOutcome]] | list[HttpOutcome] = _calls_thread().submit(
            calls_make, calls, concurrency=concurrency
        )
    else:
        outcomes = calls_make(calls, concurrency=concurrency)
    return _Pass(jobs, answered, called, outcomes)


_calls: ThreadPoolExecutor | None = None


def _calls_thread() -> ThreadPoolExecutor:
    """The one thread a drain's calls are made on (libcurl's handles stay with it)."""
    global _calls
    if _calls is None:
        _calls = ThreadPoolExecutor(1, thread_name_prefix="webhooks-calls")
    return _calls


def _record(answers: list[Answered]) -> None:
    """Record a pass's outcomes, deliveries and fetches, together."""
    deliveries: list[DeliveryResult] = []
    fetches: list[FetchResult] = []
    for job, http in answers:
        if isinstance(job, DeliveryJob):
            deliveries.append((job, http))
        else:
            fetches.append((job, http))
    outcomes_record(fetches=fetches, deliveries=deliveries)


def _claim_due() -> tuple[int, list[FetchJob | DeliveryJob]]:
    """Expire what is past its deadline, then claim due fetches and deliveries."""
    now = clock.now()
    limit = settings.WEBHOOKS_CLAIM_BATCH
    expired = collection_expire_due(now=now)
    jobs: list[FetchJob | DeliveryJob] = []
    jobs += fetch_claim_due(now=now, limit=limit)
    jobs += delivery_claim_due(now=now, limit=limit)
    return expired, jobs


def work_run_due() -> int:
    """One pass: expire, claim, call, record. Returns the work items handled."""
    expired, jobs = _claim_due()
    return expired + _pass_start(jobs, in_background=False).record()


def work_next_due_in() -> float | None:
    """Seconds until the next piece of work falls due (negative: already due), or None."""
    from webhooks.selectors import work_next_due_at

    due = work_next_due_at()
    return None if due is None else (due - clock.now()).total_seconds()


# The pause after a pass that claimed nothing though work was due (it fell due between the
# claim and the look-ahead), doubled while that repeats, up to the poll: sleeping the whole
# poll there left such work up to 0.2 s late (two stalls in every bench drain).
_MISSED_PAUSE = 0.001


def work_drain() -> int:
    """Run passes while work falls due within the horizon, for at most WEBHOOKS_SWEEP_SECONDS,
    keeping the batcher's in-flight lock alive a pass at a time.

    Passes overlap: while a pass's calls are in flight (on the calls thread), the previous
    pass's outcomes are recorded and the next pass is claimed, so the calls wait for the
    database's work only when there is nothing else to do."""
    ends = time.monotonic() + settings.WEBHOOKS_SWEEP_SECONDS
    poll = float(settings.WEBHOOKS_SWEEP_POLL_SECONDS)
    total, missed = 0, 0  # missed: passes in a row that claimed nothing though work was due
    refreshed = float("-inf")
    flying: _Pass | None = None
    try:
        while time.monotonic() < ends:
            if time.monotonic() - refreshed >= WORK_BATCHER.lock_seconds / 3:
                WORK_BATCHER.lock_refresh()  # a cache write every third of a lease
                refreshed = time.monotonic()
            handled, jobs = _claim_due()  # the expired, then the jobs claimed
            previous = flying
            flying = _pass_start(jobs, in_background=True) if jobs else None
            if previous is not None:  # should its recording fail, the new pass still is
                handled += previous.record()
            total += handled
            if flying is not None or handled:
                missed = 0
                continue
            wait = work_next_due_in()
            if wait is None or wait > settings.WEBHOOKS_SWEEP_HORIZON_SECONDS:
                break
            if wait <= 0:  # fell due since the claim (or held by another claim): soon again
                wait, missed = _MISSED_PAUSE * 2**missed, min(missed + 1, 16)
            time.sleep(min(poll, wait))
    finally:
        if flying is not None:  # calls made are recorded, whatever stopped the drain
            total += flying.record()
    return total


def work_settle(*, max_passes: int = 100_000) -> int:
    """Run passes, moving a driven clock (``clock.clock_drive``) to each next due time, until
    no work is left: the outage simulation and the tests use it instead of waiting."""
    total = 0
    for _ in range(max_passes):
        handled = work_run_due()
        total += handled
        if handled:
            continue
        wait = work_next_due_in()
        if wait is None:
            return total
        if wait > 0:
            clock.clock_advance(seconds=wait)
    raise RuntimeError("work did not settle")
