"""Reads of the webhooks domain: a request with its work, what is due, the queue's state."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Prefetch, Q, QuerySet

from core.errors import NotFoundError
from webhooks import clock, sql
from webhooks.models import (
    Attempt,
    CollectionRequest,
    CollectionStatus,
    Delivery,
    DeliveryState,
    FetchState,
    ProviderBreaker,
    ProviderFetch,
)


def collection_get(*, request_id: uuid.UUID) -> CollectionRequest:
    """A request with its fetches, delivery and attempts (four queries)."""
    queryset = CollectionRequest.objects.select_related("delivery").prefetch_related(
        Prefetch("fetches", queryset=ProviderFetch.objects.order_by("provider")),
        Prefetch("attempts", queryset=Attempt.objects.order_by("kind", "provider", "number")),
    )
    try:
        return queryset.get(pk=request_id)
    except CollectionRequest.DoesNotExist:
        raise NotFoundError("No collection request with this id.") from None


def collection_delivery(request: CollectionRequest) -> Delivery | None:
    try:
        return request.delivery
    except Delivery.DoesNotExist:
        return None


def _unclaimed(now: datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)


def work_due_soon() -> QuerySet[CollectionRequest]:
    """Requests with work due within the sweep horizon (the batcher's pending rows)."""
    horizon = clock.now() + timedelta(seconds=settings.WEBHOOKS_SWEEP_HORIZON_SECONDS)
    return CollectionRequest.objects.filter(
        Q(fetches__state=FetchState.PENDING, fetches__next_attempt_at__lte=horizon)
        | Q(delivery__state=DeliveryState.PENDING, delivery__next_attempt_at__lte=horizon)
        | Q(status=CollectionStatus.COLLECTING, deadline_at__lte=horizon)
    )


def work_next_due_at() -> datetime | None:
    """When the next fetch, delivery, lapsed lease or collect deadline falls due."""
    now = clock.now()
    candidates = []
    for model in (ProviderFetch, Delivery):
        pending = model.objects.filter(state="pending")
        found = pending.aggregate(
            free=Min("next_attempt_at", filter=_unclaimed(now)),
            lease=Min("claimed_until", filter=Q(claimed_until__gt=now)),
        )
        candidates += [found["free"], found["lease"]]
    candidates.append(
        CollectionRequest.objects.filter(status=CollectionStatus.COLLECTING).aggregate(
            at=Min("deadline_at")
        )["at"]
    )
    due = [value for value in candidates if value is not None]
    return min(due) if due else None


@dataclass(frozen=True)
class QueueState:
    fetches_due: int
    fetches_retrying: int
    deliveries_due: int
    deliveries_retrying: int
    deliveries_failed: int
    requests_by_status: dict[str, int]
    breakers: list[ProviderBreaker]


def queue_state_get() -> QueueState:
    now = clock.now()

    def split(model: type[ProviderFetch] | type[Delivery]) -> dict[str, int]:
        counts: dict[str, int] = model.objects.filter(state="pending").aggregate(
            due=Count("pk", filter=Q(next_attempt_at__lte=now)),
            retrying=Count("pk", filter=Q(next_attempt_at__gt=now, attempts__gt=0)),
        )
        return counts

    fetches, deliveries = split(ProviderFetch), split(Delivery)
    statuses = dict(
        CollectionRequest.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    return QueueState(
        fetches_due=fetches["due"],
        fetches_retrying=fetches["retrying"],
        deliveries_due=deliveries["due"],
        deliveries_retrying=deliveries["retrying"],
        deliveries_failed=Delivery.objects.filter(state=DeliveryState.FAILED).count(),
        requests_by_status={s: statuses.get(s, 0) for s in CollectionStatus.values},
        breakers=list(ProviderBreaker.objects.all()),
    )


def deliveries_failed(
    *, provider: str | None = None, host: str | None = None, since: datetime | None = None
) -> QuerySet[Delivery]:
    """Failed deliveries, narrowed by a provider of their request, callback host, or age."""
    queryset = Delivery.objects.filter(state=DeliveryState.FAILED)
    if provider:
        queryset = queryset.filter(request__fetches__provider=provider)
    if host:
        queryset = queryset.filter(request__callback_host=host.lower())
    if since:
        queryset = queryset.filter(created_at__gte=since)
    return queryset.distinct()


@dataclass(frozen=True)
class MockSettings:
    name: str
    failure_rate: float
    outage_until: datetime | None
    latency_ms: int


MOCK_PROVIDER_NAMES = ("gas", "internet")


def mock_provider_get(*, name: str) -> MockSettings:
    """A mock provider's settings: its row, else the PROVIDERS_* defaults."""
    if name not in MOCK_PROVIDER_NAMES:
        raise NotFoundError("No mock provider with this name.")
    row = sql.mock_provider_row(name=name)
    if row is None:
        return MockSettings(
            name, float(settings.PROVIDERS_FAILURE_RATE), None, settings.PROVIDERS_LATENCY_MS
        )
    return MockSettings(name, *row)
