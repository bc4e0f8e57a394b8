"""Claims: due work taken under a lease, so that one worker runs it while the lease lasts.

Each claim is a short transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` serialises claims) that sets ``claimed_until``; a worker killed
mid-call leaves work that is due again when its lease ends (decision 0042).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from webhooks.breaker import breaker_admit, breakers_ensure
from webhooks.models import Delivery, FetchState, ProviderFetch


@dataclass(frozen=True)
class FetchJob:
    fetch_id: int
    request_id: uuid.UUID
    provider: str
    probe: bool = False


@dataclass(frozen=True)
class DeliveryJob:
    delivery_id: int
    request_id: uuid.UUID
    url: str
    webhook_id: str
    body: str


# --- claims -----------------------------------------------------------------------------------


def _claim(model: Any, *, now: datetime, limit: int) -> list[int]:
    lease_until = now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            model.objects.select_for_update(skip_locked=True)
            .filter(state="pending", next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            model.objects.filter(pk__in=ids).update(claimed_until=lease_until)
    return ids


def fetch_claim_due(*, now: datetime, limit: int) -> list[FetchJob]:
    """Claim due fetches; those a provider's breaker holds back are moved, not run."""
    ids = _claim(ProviderFetch, now=now, limit=limit)
    if not ids:
        return []
    by_provider: dict[str, list[FetchJob]] = defaultdict(list)
    for fetch_id, request_id, provider in ProviderFetch.objects.filter(pk__in=ids).values_list(
        "pk", "request_id", "provider"
    ):
        by_provider[provider].append(FetchJob(fetch_id, request_id, provider))
    breakers_ensure(providers=list(by_provider))
    admitted: list[FetchJob] = []
    for provider, jobs in by_provider.items():
        admission = breaker_admit(provider=provider, wanted=len(jobs), now=now)
        chosen = jobs[: admission.allowed]
        admitted.extend(
            FetchJob(j.fetch_id, j.request_id, j.provider, admission.probe) for j in chosen
        )
        held = [j.fetch_id for j in jobs[admission.allowed :]]
        if held:
            ProviderFetch.objects.filter(pk__in=held, state=FetchState.PENDING).update(
                next_attempt_at=admission.retry_at, claimed_until=None
            )
    return admitted


def delivery_claim_due(*, now: datetime, limit: int) -> list[DeliveryJob]:
    ids = _claim(Delivery, now=now, limit=limit)
    rows = Delivery.objects.filter(pk__in=ids).values_list(
        "pk", "request_id", "request__callback_url", "webhook_id", "body"
    )
    return [DeliveryJob(*row) for row in rows]
