"""Claims: due work taken under a lease, so that one worker runs it while the lease lasts.

Each claim sets ``claimed_until`` on the due rows it takes: on PostgreSQL one statement
(``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED) ... RETURNING`` the columns the calls
need), on SQLite a short transaction (``BEGIN IMMEDIATE`` serialises claims) and a read. A
worker killed mid-call leaves work that is due again when its lease ends (decision 0042).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from webhooks.breaker import breakers_admit
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


def _taken_statement(model: Any, columns: tuple[str, ...], *, request_joined: bool) -> str:
    """PostgreSQL: lease the due rows of ``model`` (``taken``) and return ``columns``.

    The rows are picked in due order and locked in the subquery (``SKIP LOCKED``: rows another
    worker's claim holds are passed over); the outer update leases them. ``request_joined``
    makes the row's collection request readable as ``request``."""
    table = model._meta.db_table
    joined = f", {CollectionRequest._meta.db_table} AS request" if request_joined else ""
    on_request = " AND request.id = taken.request_id" if request_joined else ""
    return (
        f"UPDATE {table} AS taken SET claimed_until = %s "
        f"FROM (SELECT id FROM {table} WHERE state = %s AND next_attempt_at <= %s "
        "AND (claimed_until IS NULL OR claimed_until <= %s) "
        f"ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) AS due{joined} "
        f"WHERE taken.id = due.id{on_request} RETURNING {', '.join(columns)}"
    )


# What the calls need of each kind: the ORM's names, then the statement's.
_FETCH_COLUMNS = ("pk", "request_id", "provider")
_DELIVERY_COLUMNS = ("pk", "request_id", "request__callback_url", "webhook_id", "body")
_FETCHES_TAKEN = _taken_statement(
    ProviderFetch, ("taken.id", "taken.request_id", "taken.provider"), request_joined=False
)
_DELIVERIES_TAKEN = _taken_statement(
    Delivery,
    ("taken.id", "taken.request_id", "request.callback_url", "taken.webhook_id", "taken.body"),
    request_joined=True,
)


def _claimed(
    model: Any, *, columns: tuple[str, ...], statement: str, now: datetime, limit: int
) -> list[tuple[Any, ...]]:
    """Lease up to ``limit`` due rows of ``model``; their ``columns``. PostgreSQL: ``statement``
    alone; elsewhere a transaction (locked, leased), then a read."""
    lease_until = now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(statement, [lease_until, "pending", now, now, limit])
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
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
    return list(model.objects.filter(pk__in=ids).values_list(*columns)) if ids else []


def fetch_claim_due(*, now: datetime, limit: int) -> list[FetchJob]:
    """Claim due fetches; those a provider's breaker holds back are moved, not run."""
    rows = _claimed(
        ProviderFetch, columns=_FETCH_COLUMNS, statement=_FETCHES_TAKEN, now=now, limit=limit
    )
    if not rows:
        return []
    by_provider: dict[str, list[FetchJob]] = defaultdict(list)
    for fetch_id, request_id, provider in rows:
        by_provider[provider].append(FetchJob(fetch_id, request_id, provider))
    admissions = breakers_admit(wanted={p: len(jobs) for p, jobs in by_provider.items()}, now=now)
    admitted: list[FetchJob] = []
    for provider, jobs in by_provider.items():
        admission = admissions[provider]
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
    rows = _claimed(
        Delivery, columns=_DELIVERY_COLUMNS, statement=_DELIVERIES_TAKEN, now=now, limit=limit
    )
    return [DeliveryJob(*row) for row in rows]
