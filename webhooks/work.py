"""The work engine: claim what is due, run it with bounded concurrency, record what happened.

A pass (``work_run_due``) expires requests past their collect deadline, claims due fetches
(admitted by each provider's circuit breaker) and due deliveries, each claim a short
transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
serialises claims) that sets a lease, ``claimed_until``. Each piece of work then runs on a
thread pool (``WEBHOOKS_CONCURRENCY`` threads, pooled HTTP sessions): the HTTP call outside any
transaction, then its outcome recorded in a transaction of its own that locks the request row,
writes one ``Attempt`` row and moves the work on (retry time, fetched data, the delivery once
every fetch has ended, the request's status).

``work_drain`` runs passes while work falls due soon (decision 0042); ``WORK_BATCHER``
(core.batching) starts it right after a commit that made work due.
"""

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, transaction

from core.batching import Batcher
from webhooks import clock
from webhooks.breaker import breaker_record_failure, breaker_record_success
from webhooks.claims import DeliveryJob, FetchJob, delivery_claim_due, fetch_claim_due
from webhooks.http import HttpOutcome, callback_post, provider_fetch
from webhooks.models import (
    Attempt,
    AttemptKind,
    AttemptOutcome,
    CollectionRequest,
    CollectionStatus,
    Delivery,
    DeliveryState,
    FetchState,
    ProviderFetch,
)

# A request's provider no longer in WEBHOOKS_PROVIDERS (settings changed): that fetch fails.
UNKNOWN_PROVIDER = "unknown provider (not in WEBHOOKS_PROVIDERS)"

# Seeded by tests; one generator for every jitter draw of this process.
rng = random.Random()

WORK_BATCHER = Batcher(
    ref="webhooks.work.WORK_BATCHER",
    pending="webhooks.selectors.work_due_soon",
    threshold_setting="WEBHOOKS_SWEEP_THRESHOLD",
    processor="webhooks.work.work_drain",
    # Longer than one drain: its budget plus its last pass, which holds work no longer than a
    # lease. A drain task that died frees the way for the next one after this.
    lock_seconds=settings.WEBHOOKS_SWEEP_SECONDS + settings.WEBHOOKS_LEASE_SECONDS,
)


def backoff_seconds(*, attempt: int) -> float:
    """Full jitter: uniform over [0, min(cap, base * 2**(attempt-1))]."""
    base = float(settings.WEBHOOKS_BACKOFF_BASE_SECONDS)
    ceiling = min(float(settings.WEBHOOKS_MAX_BACKOFF), base * 2 ** min(attempt - 1, 40))
    return rng.uniform(0, ceiling)


# --- outcomes ---------------------------------------------------------------------------------


def _attempt_add(
    *,
    request_id: uuid.UUID,
    kind: str,
    provider: str,
    number: int,
    outcome: str,
    http: HttpOutcome,
    error: str,
    next_attempt_at: datetime | None,
) -> None:
    Attempt.objects.create(
        request_id=request_id,
        kind=kind,
        provider=provider,
        number=number,
        outcome=outcome,
        status_code=http.status_code,
        response_excerpt=http.excerpt,
        error=error[:500],
        started_at=http.started_at,
        finished_at=http.finished_at,
        next_attempt_at=next_attempt_at,
    )


def _fetch_failure(http: HttpOutcome) -> tuple[bool, str]:
    """(retryable, error) of an unsuccessful fetch: 5xx and network errors retry; 4xx and a
    2xx that is not JSON are permanent."""
    if http.status_code is None:
        return http.error != UNKNOWN_PROVIDER, http.error
    if http.status_code >= 500:
        return True, http.error or f"HTTP {http.status_code}"
    return False, http.error or f"HTTP {http.status_code}"


def fetch_record(*, job: FetchJob, http: HttpOutcome) -> None:
    now = clock.now()
    with transaction.atomic():
        request = CollectionRequest.objects.select_for_update().get(pk=job.request_id)
        fetch = ProviderFetch.objects.select_for_update().get(pk=job.fetch_id)
        if fetch.state != FetchState.PENDING:
            return  # finished by another worker after our lease lapsed
        fetch.attempts += 1
        fetch.claimed_until = None
        next_at = None
        if http.ok:
            outcome, error = AttemptOutcome.SUCCEEDED, ""
            fetch.state, fetch.data, fetch.fetched_at = FetchState.FETCHED, http.data, now
            fetch.next_attempt_at = None
        else:
            retryable, error = _fetch_failure(http)
            next_at = now + timedelta(seconds=backoff_seconds(attempt=fetch.attempts))
            if retryable and next_at >= request.deadline_at:
                retryable, error = False, f"{error}; collect deadline reached"
            outcome = AttemptOutcome.RETRY if retryable else AttemptOutcome.FAILED
            if not retryable:
                fetch.state, next_at = FetchState.FAILED, None
            fetch.next_attempt_at, fetch.last_error = next_at, error[:500]
        fetch.save()
        _attempt_add(
            request_id=request.pk,
            kind=AttemptKind.FETCH,
            provider=fetch.provider,
            number=fetch.attempts,
            outcome=outcome,
            http=http,
            error=error,
            next_attempt_at=next_at,
        )
        if http.status_code is not None and http.status_code < 500:
            breaker_record_success(provider=fetch.provider)
        else:
            breaker_record_failure(provider=fetch.provider, probe=job.probe, now=now)
        if fetch.state != FetchState.PENDING:
            collection_collect_end(request=request, now=now)


def collection_collect_end(*, request: CollectionRequest, now: datetime) -> None:
    """Once no fetch of a (locked) collecting request is pending: queue its one delivery,
    ``completed`` with every provider's data, or ``failed`` with what was collected."""
    if request.status != CollectionStatus.COLLECTING:
        return
    fetches = {f.provider: f for f in request.fetches.all()}
    if any(f.state == FetchState.PENDING for f in fetches.values()):
        return
    complete = all(f.state == FetchState.FETCHED for f in fetches.values())
    data = {
        name: fetches[name].data
        for name in request.providers
        if name in fetches and fetches[name].state == FetchState.FETCHED
    }
    body = {"id": str(request.pk), "status": "completed" if complete else "failed", "data": data}
    Delivery.objects.create(
        request=request,
        webhook_id=f"msg_{uuid.uuid4().hex}",
        body=json.dumps(body, separators=(",", ":")),
        next_attempt_at=now,
        window_ends_at=now + timedelta(seconds=settings.WEBHOOKS_DELIVERY_WINDOW),
        created_at=now,
    )
    request.status = CollectionStatus.DELIVERING if complete else CollectionStatus.FAILED
    request.finished_at = None if complete else now
    request.save(update_fields=["status", "finished_at"])
    WORK_BATCHER.notify()


def _delivery_next(
    *, delivery: Delivery, http: HttpOutcome, now: datetime
) -> tuple[AttemptOutcome, str, datetime | None]:
    """(outcome, error, next attempt time) of a delivery attempt."""
    if http.ok:
        return AttemptOutcome.SUCCEEDED, "", None
    if http.refused:
        return AttemptOutcome.FAILED, http.error, None
    if http.status_code == 410:
        return AttemptOutcome.FAILED, "410 Gone: the receiver asked us to stop", None
    error = http.error or f"HTTP {http.status_code}"
    if http.retry_after_seconds is not None:
        wait = http.retry_after_seconds
    else:
        wait = backoff_seconds(attempt=delivery.attempts)
    next_at = now + timedelta(seconds=wait)
    if next_at > delivery.window_ends_at:
        return AttemptOutcome.FAILED, f"{error}; delivery window ended", None
    return AttemptOutcome.RETRY, error, next_at


def delivery_record(*, job: DeliveryJob, http: HttpOutcome) -> None:
    now = clock.now()
    with transaction.atomic():
        request = CollectionRequest.objects.select_for_update().get(pk=job.request_id)
        delivery = Delivery.objects.select_for_update().get(pk=job.delivery_id)
        if delivery.state != DeliveryState.PENDING:
            return
        delivery.attempts += 1
        outcome, error, next_at = _delivery_next(delivery=delivery, http=http, now=now)
        delivery.claimed_until, delivery.next_attempt_at = None, next_at
        delivery.last_status_code = http.status_code
        delivery.last_response = (http.excerpt or error)[:500]
        if outcome == AttemptOutcome.SUCCEEDED:
            delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
            if request.status == CollectionStatus.DELIVERING:
                request.status = CollectionStatus.DELIVERED
        elif outcome == AttemptOutcome.FAILED:
            delivery.state = DeliveryState.FAILED
            request.status = CollectionStatus.FAILED
        if delivery.state != DeliveryState.PENDING:
            request.finished_at = request.finished_at or now
            request.save(update_fields=["status", "finished_at"])
        delivery.save()
        _attempt_add(
            request_id=request.pk,
            kind=AttemptKind.DELIVERY,
            provider="",
            number=delivery.attempts,
            outcome=outcome,
            http=http,
            error=error,
            next_attempt_at=next_at,
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
            request = CollectionRequest.objects.select_for_update().get(pk=request_id)
            if request.status != CollectionStatus.COLLECTING:
                continue
            request.fetches.filter(state=FetchState.PENDING).update(
                state=FetchState.FAILED,
                next_attempt_at=None,
                claimed_until=None,
                last_error="collect deadline reached",
            )
            collection_collect_end(request=request, now=now)
    return len(ids)


# --- passes -----------------------------------------------------------------------------------

_pool: ThreadPoolExecutor | None = None


def _job_run(job: "FetchJob | DeliveryJob") -> None:
    """Call and record one piece of work (on a pool thread: its own database connection)."""
    if isinstance(job, FetchJob):
        url = settings.WEBHOOKS_PROVIDERS.get(job.provider)
        if url is None:
            now = clock.now()
            http = HttpOutcome(now, now, status_code=None, error=UNKNOWN_PROVIDER)
        else:
            http = provider_fetch(url=url)
        fetch_record(job=job, http=http)
    else:
        http = callback_post(url=job.url, webhook_id=job.webhook_id, body=job.body)
        delivery_record(job=job, http=http)


def _pooled(job: "FetchJob | DeliveryJob") -> None:
    close_old_connections()  # a pool thread's connection lives by CONN_MAX_AGE, as a request's
    _job_run(job)


def _run_all(jobs: list[FetchJob | DeliveryJob]) -> None:
    """Run every job, at most WEBHOOKS_CONCURRENCY at once. Each pool thread records its own
    outcomes, so the database round trips of recording overlap as the HTTP calls do."""
    global _pool
    if settings.WEBHOOKS_CONCURRENCY <= 1 or len(jobs) <= 1:
        for job in jobs:
            _job_run(job)
        return
    if _pool is None or _pool._max_workers != settings.WEBHOOKS_CONCURRENCY:
        _pool = ThreadPoolExecutor(settings.WEBHOOKS_CONCURRENCY, thread_name_prefix="webhooks")
    for future in [_pool.submit(_pooled, job) for job in jobs]:
        future.result()


def work_run_due() -> int:
    """One pass: expire, claim, call, record. Returns the work items handled."""
    now = clock.now()
    limit = settings.WEBHOOKS_CLAIM_BATCH
    expired = collection_expire_due(now=now)
    jobs: list[FetchJob | DeliveryJob] = []
    jobs += fetch_claim_due(now=now, limit=limit)
    jobs += delivery_claim_due(now=now, limit=limit)
    _run_all(jobs)
    return expired + len(jobs)


def work_next_due_in() -> float | None:
    """Seconds until the next piece of work falls due (negative: already due), or None."""
    from webhooks.selectors import work_next_due_at

    due = work_next_due_at()
    return None if due is None else (due - clock.now()).total_seconds()


def work_drain() -> int:
    """Run passes while work falls due within the horizon, for at most WEBHOOKS_SWEEP_SECONDS."""
    ends = time.monotonic() + settings.WEBHOOKS_SWEEP_SECONDS
    poll = float(settings.WEBHOOKS_SWEEP_POLL_SECONDS)
    total = 0
    while time.monotonic() < ends:
        handled = work_run_due()
        total += handled
        if handled:
            continue
        wait = work_next_due_in()
        if wait is None or wait > settings.WEBHOOKS_SWEEP_HORIZON_SECONDS:
            break
        time.sleep(min(poll, wait) if wait > 0 else poll)
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
