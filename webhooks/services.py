"""Writes of the webhooks domain (each owns its transaction).

The work engine's own writes (claims, attempt outcomes, deadlines) live in ``webhooks.work``.
"""

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from core.errors import ConflictError, NotFoundError
from core.groupcommit import GroupCommit
from webhooks import clock, sql
from webhooks.breaker import breaker_reset
from webhooks.models import (
    CollectionRequest,
    CollectionStatus,
    Delivery,
    DeliveryState,
    MockProvider,
    ProviderBreaker,
    ProviderFetch,
)
from webhooks.netguard import url_host_port
from webhooks.records import requests_locked
from webhooks.selectors import MOCK_PROVIDER_NAMES, MockSettings, mock_provider_get
from webhooks.work import WORK_BATCHER


def collection_create(*, providers: list[str], callback_url: str) -> CollectionRequest:
    """Store a request and one pending fetch per provider; the sweep starts after commit.

    ``callback_url`` has passed the SSRF guard (the input serializer checks it)."""
    host, _ = url_host_port(callback_url)
    now = clock.now()
    request = CollectionRequest(
        providers=providers,
        callback_url=callback_url,
        callback_host=host.lower(),
        deadline_at=now + timedelta(seconds=settings.WEBHOOKS_COLLECT_DEADLINE),
        created_at=now,
    )
    if _stored_in_one_statement(request):
        WORK_BATCHER.notify()
        return request
    with transaction.atomic():
        request.save(force_insert=True)
        fetches = [ProviderFetch(request=request, provider=name, next_attempt_at=now)
                   for name in providers]  # fmt: skip
        ProviderFetch.objects.bulk_create(fetches)
        WORK_BATCHER.notify()
    return request


def _requests_store(requests: Sequence[CollectionRequest]) -> list[bool]:
    return [sql.requests_with_fetches_insert(requests)] * len(requests)


# The submits a web process receives while its previous ones are being stored go together in
# one statement and one flush (core.groupcommit, decision 0074).
_SUBMITS: GroupCommit[CollectionRequest, bool] = GroupCommit(_requests_store, max_items=64)


def _stored_in_one_statement(request: CollectionRequest) -> bool:
    """PostgreSQL: the request and its fetches stored in one statement with the submits its
    process receives meanwhile (alone inside a transaction). False elsewhere: the caller
    uses the ORM."""
    if connection.vendor != "postgresql":
        return False
    return _SUBMITS.submit_from_request(request, alone=sql.request_with_fetches_insert)


def _reopened(*, now: datetime) -> dict[str, object]:
    """A delivery sent again: the same message (webhook-id, body), a new delivery window."""
    return {
        "state": DeliveryState.PENDING,
        "next_attempt_at": now,
        "claimed_until": None,
        "delivered_at": None,
        "window_ends_at": now + timedelta(seconds=settings.WEBHOOKS_DELIVERY_WINDOW),
    }


def _delivers_completed(delivery: Delivery) -> bool:
    """Whether the callback carries a completed collection (its request is then delivering
    again; a failed collection stays failed: its redelivered callback says so)."""
    return bool(json.loads(delivery.body).get("status") == "completed")


def _delivery_reopen(*, delivery: Delivery, now: datetime) -> None:
    """Send the same message again with a new delivery window."""
    request = delivery.request
    for field, value in _reopened(now=now).items():
        setattr(delivery, field, value)
    delivery.save()
    if _delivers_completed(delivery):
        request.status, request.finished_at = CollectionStatus.DELIVERING, None
        request.save(update_fields=["status", "finished_at"])


def collection_redeliver(*, request_id: uuid.UUID) -> CollectionRequest:
    """Deliver a request's callback once more (after it was delivered or failed)."""
    with transaction.atomic():
        request = CollectionRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise NotFoundError("No collection request with this id.")
        delivery = Delivery.objects.select_for_update().filter(request=request).first()
        if delivery is None:
            raise ConflictError(
                "The request is still collecting: there is nothing to deliver yet.",
                code="not_ready",
            )
        if delivery.state == DeliveryState.PENDING:
            raise ConflictError("The callback is already being delivered.", code="delivering")
        delivery.request = request
        _delivery_reopen(delivery=delivery, now=clock.now())
        WORK_BATCHER.notify()
    return request


RETRY_CHUNK = 1000


def deliveries_retry(
    *, deliveries: QuerySet[Delivery], progress: Callable[[int, int], None] | None = None
) -> int:
    """Deliver again every failed delivery of ``deliveries`` (admin, command). Returns how many.

    A transaction per ``RETRY_CHUNK`` deliveries, each a few statements whatever its size
    (a transaction per delivery took minutes for an outage's tens of thousands); ``progress``
    hears (retried so far, matching) after each."""
    failed = deliveries.filter(state=DeliveryState.FAILED).order_by("pk")
    ids = list(failed.values_list("pk", flat=True))
    retried = 0
    now = clock.now()
    for start in range(0, len(ids), RETRY_CHUNK):
        retried += _deliveries_reopen(ids=ids[start : start + RETRY_CHUNK], now=now)
        if progress is not None:
            progress(retried, len(ids))
    if retried:
        WORK_BATCHER.notify()
    return retried


def _deliveries_reopen(*, ids: list[int], now: datetime) -> int:
    """``_delivery_reopen`` for the deliveries of ``ids`` still failed, set-wise: their requests
    locked first, then the deliveries, in key order, as the engine's recorders lock them."""
    with transaction.atomic():
        request_ids = Delivery.objects.filter(pk__in=ids).values_list("request_id", flat=True)
        requests_locked(request_ids)
        locked = Delivery.objects.select_for_update().filter(pk__in=sorted(ids)).order_by("pk")
        failed = [d for d in locked if d.state == DeliveryState.FAILED]
        Delivery.objects.filter(pk__in=[d.pk for d in failed]).update(**_reopened(now=now))
        completed = [d.request_id for d in failed if _delivers_completed(d)]
        CollectionRequest.objects.filter(pk__in=completed).update(
            status=CollectionStatus.DELIVERING, finished_at=None
        )
    return len(failed)


def mock_provider_set(
    *, name: str, failure_rate: float, outage_until: datetime | None, latency_ms: int
) -> MockSettings:
    if name not in MOCK_PROVIDER_NAMES:
        raise NotFoundError("No mock provider with this name.")
    MockProvider.objects.update_or_create(
        name=name,
        defaults={
            "failure_rate": failure_rate,
            "outage_until": outage_until,
            "latency_ms": latency_ms,
        },
    )
    return mock_provider_get(name=name)


def breakers_reset(*, breakers: QuerySet[ProviderBreaker]) -> int:
    return sum(breaker_reset(provider=b.provider) for b in breakers)
