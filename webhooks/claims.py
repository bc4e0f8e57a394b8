"""Claims: due work taken under a lease, so that one worker runs it while the lease lasts.

Each claim sets ``claimed_until`` on the due rows it takes: on PostgreSQL one statement in
autocommit (``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED) ... RETURNING`` the columns
the calls need; it was a transaction of four round trips and a read), on SQLite a short
transaction (``BEGIN IMMEDIATE`` serialises claims). A worker killed mid-call leaves work that
is due again when its lease ends (decision 0042).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from webhooks.breaker import breaker_admit, breakers_ensure
from webhooks.models import CollectionRequest, Delivery, FetchState, ProviderFetch


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


def _due_taken(table: str, *, joined: str = "", joins: str = "", returning: str) -> str:
    """PostgreSQL: lease the due rows of ``table`` (as ``taken``) and return ``returning``.

    The rows are picked in due order and locked (``SKIP LOCKED``: another worker's claim in
    progress is passed over) in the subquery; the outer update leases them; the statement is
    its own transaction."""
    return (
        f"UPDATE {table} AS taken SET claimed_until = %s "
        f"FROM (SELECT id FROM {table} WHERE state = %s AND next_attempt_at <= %s "
        "AND (claimed_until IS NULL OR claimed_until <= %s) "
        f"ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) AS due{joined} "
        f"WHERE taken.id = due.id{joins} RETURNING {returning}"
    )


_FETCHES_TAKEN = _due_taken(
    ProviderFetch._meta.db_table, returning="taken.id, taken.request_id, taken.provider"
)
_DELIVERIES_TAKEN = _due_taken(
    Delivery._meta.db_table,
    joined=f", {CollectionRequest._meta.db_table} AS request",
    joins=" AND request.id = taken.request_id",
    returning="taken.id, taken.request_id, request.callback_url, taken.webhook_id, taken.body",
)


def _taken(statement: str, *, now: datetime, limit: int) -> list[tuple[Any, ...]]:
    lease_until = now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(statement, [lease_until, "pending", now, now, limit])
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


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
    if connection.vendor == "postgresql":
        rows = _taken(_FETCHES_TAKEN, now=now, limit=limit)
    else:
        ids = _claim(ProviderFetch, now=now, limit=limit)
        rows = list(
            ProviderFetch.objects.filter(pk__in=ids).values_list("pk", "request_id", "provider")
        )
    if not rows:
        return []
    by_provider: dict[str, list[FetchJob]] = defaultdict(list)
    for fetch_id, request_id, provider in rows:
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
    if connection.vendor == "postgresql":
        return [DeliveryJob(*row) for row in _taken(_DELIVERIES_TAKEN, now=now, limit=limit)]
    ids = _claim(Delivery, now=now, limit=limit)
    rows = Delivery.objects.filter(pk__in=ids).values_list(
        "pk", "request_id", "request__callback_url", "webhook_id", "body"
    )
    return [DeliveryJob(*row) for row in rows]
