"""What an attempt's outcome does to the work: attempt rows, the next state, the breakers.

A pass records all its outcomes together, in the one transaction ``webhooks.work.outcomes_record``
opens: the requests' rows locked once, in primary-key order, then its deliveries'
(``deliveries_store``) and its fetches' (``fetch_outcomes_store``), each kind with one update
of its rows and one insert of its attempts, instead of a transaction per call. The breakers then
learn the pass's fetch outcomes per provider (``breakers_record``), in a transaction of their
own, so a breaker's row is never held while the requests' transaction runs.
"""

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from core.sql import rows_insert, rows_update
from webhooks.breaker import breaker_record_failure, breaker_record_success
from webhooks.claims import DeliveryJob, FetchJob
from webhooks.http import HttpOutcome
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
from webhooks.records import (
    DeliveryRecord,
    FetchRecord,
    RequestRecord,
    deliveries_locked,
    fetches_locked,
)

# A request's provider no longer in WEBHOOKS_PROVIDERS (settings changed): that fetch fails.
UNKNOWN_PROVIDER = "unknown provider (not in WEBHOOKS_PROVIDERS)"

FETCH_RECORDED_FIELDS = ["attempts", "claimed_until", "state", "data", "fetched_at",
                         "next_attempt_at", "last_error"]  # fmt: skip

# Seeded by tests; one generator for every jitter draw of this process.
rng = random.Random()

FetchResult = tuple[FetchJob, HttpOutcome]


def _still_pending[Job: (FetchJob, DeliveryJob), Row: (FetchRecord, DeliveryRecord)](
    results: Sequence[tuple[Job, HttpOutcome]],
    rows: dict[int, Row],
    row_id: Callable[[Job], int],
    pending: str,
    requests: dict[uuid.UUID, RequestRecord],
) -> Iterator[tuple[Job, HttpOutcome, Row, RequestRecord]]:
    """Each outcome whose locked row (fetch or delivery) and request are still there and whose
    row is still in its ``pending`` state, with them: the one rule of both recorders. Skipped:
    a row another worker finished after our lease lapsed, and one whose request an operator
    deleted while the call was in flight."""
    for job, http in results:
        row, request = rows.get(row_id(job)), requests.get(job.request_id)
        if row is not None and request is not None and row.state == pending:
            yield job, http, row, request


def backoff_seconds(*, attempt: int) -> float:
    """Full jitter: uniform over [0, min(cap, base * 2**(attempt-1))]."""
    base = float(settings.WEBHOOKS_BACKOFF_BASE_SECONDS)
    ceiling = min(float(settings.WEBHOOKS_MAX_BACKOFF), base * 2 ** min(attempt - 1, 40))
    return rng.uniform(0, ceiling)


def _attempt(
    *,
    request_id: uuid.UUID,
    kind: str,
    provider: str,
    number: int,
    outcome: str,
    http: HttpOutcome,
    error: str,
    next_attempt_at: datetime | None,
) -> Attempt:
    return Attempt(
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


# --- fetches ----------------------------------------------------------------------------------


def _fetch_failure(http: HttpOutcome) -> tuple[bool, str]:
    """(retryable, error) of an unsuccessful fetch: 5xx and network errors retry; 4xx and a
    2xx that is not JSON are permanent."""
    if http.status_code is None:
        return http.error != UNKNOWN_PROVIDER, http.error
    if http.status_code >= 500:
        return True, http.error or f"HTTP {http.status_code}"
    return False, http.error or f"HTTP {http.status_code}"


def _fetch_outcome_apply(
    *, fetch: FetchRecord, request: RequestRecord, http: HttpOutcome, now: datetime
) -> Attempt:
    """Move a (locked, pending) fetch on by its outcome; the attempt row that records it."""
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
    return _attempt(
        request_id=request.pk,
        kind=AttemptKind.FETCH,
        provider=fetch.provider,
        number=fetch.attempts,
        outcome=outcome,
        http=http,
        error=error,
        next_attempt_at=next_at,
    )


def fetch_outcomes_store(
    *,
    results: Sequence[FetchResult],
    requests: dict[uuid.UUID, RequestRecord],
    now: datetime,
) -> tuple[list[FetchResult], list[RequestRecord]]:
    """Inside a transaction, the ``requests`` locked (``requests_locked``: primary-key order,
    as every recorder locks them): lock the fetches, record each outcome of a fetch still
    pending. Returns the results recorded (a fetch another worker finished after our lease
    lapsed is skipped) and the requests one of whose fetches ended."""
    fetches = fetches_locked(job.fetch_id for job, _ in results)
    recorded, attempts, ended = [], [], {}
    live = _still_pending(results, fetches, lambda j: j.fetch_id, FetchState.PENDING, requests)
    for job, http, fetch, request in live:
        attempts.append(_fetch_outcome_apply(fetch=fetch, request=request, http=http, now=now))
        recorded.append((job, http))
        if fetch.state != FetchState.PENDING:
            ended[request.pk] = request
    changed = [fetches[job.fetch_id] for job, _ in recorded]
    rows_update(changed, FETCH_RECORDED_FIELDS, model=ProviderFetch)
    rows_insert(attempts)
    return recorded, list(ended.values())


def breakers_record(*, results: Sequence[FetchResult], now: datetime) -> None:
    """Tell each provider's breaker what a pass's calls to it answered, in order: a success (any
    answer under 500) closes it and resets the count; the failures after the last success are
    counted as consecutive ones (a probe is alone in its pass: admission allows one call)."""
    by_provider: dict[str, list[FetchResult]] = {}
    for job, http in results:
        by_provider.setdefault(job.provider, []).append((job, http))
    if not by_provider:
        return
    with transaction.atomic():
        for provider, outcomes in sorted(by_provider.items()):
            answered = [h.status_code is not None and h.status_code < 500 for _, h in outcomes]
            if any(answered):
                breaker_record_success(provider=provider)
                trailing = answered[::-1].index(True)
            else:
                trailing = len(answered)
            if trailing:
                probe = any(job.probe for job, _ in outcomes[-trailing:])
                breaker_record_failure(provider=provider, probe=probe, now=now, count=trailing)


# --- deliveries -------------------------------------------------------------------------------


def _delivery_next(
    *, delivery: DeliveryRecord, http: HttpOutcome, now: datetime
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


DELIVERY_RECORDED_FIELDS = ["attempts", "claimed_until", "next_attempt_at", "last_status_code",
                            "last_response", "state", "delivered_at"]  # fmt: skip

DeliveryResult = tuple[DeliveryJob, HttpOutcome]


def _delivery_outcome_apply(
    *, delivery: DeliveryRecord, request: RequestRecord, http: HttpOutcome, now: datetime
) -> Attempt:
    """Move a (locked, pending) delivery and its request on; the attempt row that records it."""
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
    return _attempt(
        request_id=request.pk,
        kind=AttemptKind.DELIVERY,
        provider="",
        number=delivery.attempts,
        outcome=outcome,
        http=http,
        error=error,
        next_attempt_at=next_at,
    )


def deliveries_store(
    *,
    results: Sequence[DeliveryResult],
    requests: dict[uuid.UUID, RequestRecord],
    now: datetime,
) -> None:
    """Inside a transaction, the ``requests`` locked: lock the deliveries and record a pass's
    outcomes of them; a delivery no longer pending (another worker's, after our lease lapsed)
    is skipped."""
    if not results:
        return
    deliveries = deliveries_locked(job.delivery_id for job, _ in results)
    attempts, changed, ended = [], [], {}
    live = _still_pending(
        results, deliveries, lambda j: j.delivery_id, DeliveryState.PENDING, requests
    )
    for _, http, delivery, request in live:
        attempts.append(
            _delivery_outcome_apply(delivery=delivery, request=request, http=http, now=now)
        )
        changed.append(delivery)
        if delivery.state != DeliveryState.PENDING:
            ended[request.pk] = request
    rows_update(changed, DELIVERY_RECORDED_FIELDS, model=Delivery)
    rows_update(list(ended.values()), ["status", "finished_at"], model=CollectionRequest)
    rows_insert(attempts)
