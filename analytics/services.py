"""Writes of the analytics domain: owners, apps and keys, collecting, processing, rebuilding.

Collecting commits the events before the API answers 202. Processing folds the next id range
of the log into the three rollups and records the range as a batch, in one transaction, under
the processor lock (the ingestion scheme: docs/decisions/0022-processing-watermark.md), so each
event is folded exactly once whoever runs the processor and however many run at once.
"""

import contextlib
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from analytics import fold, sql
from analytics.copy_rows import PlainRows
from analytics.models import ApiKey, App, Batch
from analytics.selectors import RollupDifference, app_get_owned, rollup_differences
from analytics.validation import CleanEvent
from core.batching import Batcher
from core.errors import ApplicationError, NotFoundError
from core.sql import event_range_claim

logger = logging.getLogger(__name__)

EVENTS_BATCHER = Batcher(
    ref="analytics.services.EVENTS_BATCHER",
    pending="analytics.selectors.event_pending_queryset",
    threshold_setting="ANALYTICS_BATCH_SIZE",
    processor="analytics.services.events_process_pending",
)

KEY_SCHEME = "ak_"
PREFIX_CHARS = 12
# last_used_at is written at most this often per key, so collect does not write twice.
LAST_USED_RESOLUTION_SECONDS = 60


# --- Owners ---------------------------------------------------------------------------------


def owner_signup(*, username: str, password: str, email: str) -> Token:
    """Create an owner account (open signup only) and its API token."""
    if not settings.ANALYTICS_OPEN_SIGNUP:
        raise ApplicationError(
            "Signup is closed; an operator creates owner accounts.",
            code="signup_closed",
            status_code=403,
        )
    user_model = get_user_model()
    candidate = user_model(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise DjangoValidationError({"password": exc.messages}) from None
    try:
        with transaction.atomic():
            user = user_model.objects.create_user(username=username, password=password, email=email)
            return Token.objects.create(user=user)
    except IntegrityError:
        raise DjangoValidationError(
            {"username": ["A user with that username already exists."]}
        ) from None


def owner_token_get(*, username: str, password: str) -> Token:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise ApplicationError(
            "Unable to log in with the given credentials.",
            code="invalid_credentials",
            status_code=400,
        )
    return owner_token_issue(user=user)


def owner_token_issue(*, user: User) -> Token:
    """The owner's API token (made at the first ask; the same one after that).

    For an owner already signed in: by password (``owner_token_get``) or with Google (a
    session, ``GET /api/auth/token``).
    """
    token, _ = Token.objects.get_or_create(user=user)
    return token


# --- Keys -----------------------------------------------------------------------------------


def key_hash(raw: str) -> str:
    """SHA-256 of the whole key: keys are 256-bit random, so a slow hash would add nothing."""
    return hashlib.sha256(raw.encode()).hexdigest()


def key_prefix(raw: str) -> str | None:
    """The public lookup part of a well-formed key (``ak_<12 hex>_<secret>``), else None."""
    if len(raw) < 20 or not raw.startswith(KEY_SCHEME) or raw[15] != "_":
        return None
    prefix = raw[3:15]
    return prefix if all(c in "0123456789abcdef" for c in prefix) else None


def key_matches(raw: str, hashed: str) -> bool:
    return hmac.compare_digest(key_hash(raw), hashed)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    raw: str  # shown once, never stored


def _key_issue(*, app: App) -> IssuedKey:
    prefix = secrets.token_hex(PREFIX_CHARS // 2)
    raw = f"{KEY_SCHEME}{prefix}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    ttl = settings.ANALYTICS_KEY_TTL_DAYS
    key = ApiKey.objects.create(
        app=app,
        prefix=prefix,
        hashed_key=key_hash(raw),
        created_at=now,
        expires_at=now + timedelta(days=ttl) if ttl > 0 else None,
    )
    return IssuedKey(key=key, raw=raw)


def app_register(*, owner: User, name: str, domain: str) -> tuple[App, IssuedKey]:
    with transaction.atomic():
        app = App.objects.create(owner=owner, name=name, domain=domain, created_at=timezone.now())
        return app, _key_issue(app=app)


def api_key_regenerate(*, owner: User, app_id: uuid.UUID | str) -> IssuedKey:
    """Revoke the app's live key (if any) and issue a new one, atomically."""
    with transaction.atomic():
        app = app_get_owned(owner=owner, app_id=app_id, for_update=True)
        ApiKey.objects.filter(app=app, revoked_at__isnull=True).update(revoked_at=timezone.now())
        return _key_issue(app=app)


def api_key_revoke(
    *, owner: User, app_id: uuid.UUID | str | None = None, raw_key: str | None = None
) -> ApiKey | None:
    """Revoke the app's live key, or the key given. Refused from the next request on.

    Returns the revoked key, or None when the app had no live key (revoking twice is fine).
    """
    with transaction.atomic():
        key: ApiKey | None
        if raw_key is not None:
            key = _owned_key_by_raw(owner=owner, raw=raw_key)
        elif app_id is not None:
            app = app_get_owned(owner=owner, app_id=app_id, for_update=True)
            key = ApiKey.objects.filter(app=app, revoked_at__isnull=True).first()
        else:
            raise ValueError("api_key_revoke needs app_id or raw_key")
        if key is None or key.revoked_at is not None:
            return None
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        return key


def api_key_revoke_by_operator(*, key_ids: Sequence[int]) -> int:
    return ApiKey.objects.filter(pk__in=key_ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _owned_key_by_raw(*, owner: User, raw: str) -> ApiKey:
    prefix = key_prefix(raw)
    key = (
        ApiKey.objects.select_for_update().filter(prefix=prefix, app__owner=owner).first()
        if prefix
        else None
    )
    if key is None or not key_matches(raw, key.hashed_key):
        raise NotFoundError("No such API key among your apps.")
    return key


@dataclass(frozen=True)
class KeyIdentity:
    """The party of a collect request: one key of one app, its secret verified
    (``analytics.admission``: whether it is still live is read on every request)."""

    key_id: int
    app_id: uuid.UUID
    owner_id: int


# --- Collect --------------------------------------------------------------------------------


# What collect stores: clean events, or a plain batch's rows (PostgreSQL; decision 0078).
Events = Sequence[CleanEvent] | PlainRows


def events_collect(*, app_id: uuid.UUID, events: Events) -> int:
    """Store events of one app durably (committed when this returns); returns how many.

    One event on PostgreSQL is one statement in autocommit (its own transaction: one round
    trip, no BEGIN/COMMIT); more, or SQLite's chunks, take a transaction so that all or none
    are stored.
    """
    if not events:
        return 0
    one_statement = len(events) == 1 and connection.vendor == "postgresql"  # never PlainRows
    with contextlib.nullcontext() if one_statement else transaction.atomic():
        inserted = sql.events_insert(app_id=app_id, events=events, received_at=timezone.now())
        EVENTS_BATCHER.notify()
    return inserted


# --- Processing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessedBatch:
    batch_id: int
    size: int


def events_process_batch(*, limit: int | None = None) -> ProcessedBatch | None:
    """Fold the next at most ``limit`` pending events into the rollups, in one transaction.

    Returns None (and writes nothing) when no event is pending.
    """
    from analytics.selectors import watermark_get

    limit = limit or settings.ANALYTICS_PROCESS_CLAIM
    with transaction.atomic(), connection.cursor() as cursor:
        fold.processor_lock(cursor)
        after = watermark_get()
        upto = event_range_claim(
            cursor, table=sql.EVENTS, writer_lock=sql.WRITER_LOCK, after=after, limit=limit
        )
        if upto is None:
            return None
        size = fold.rollups_fold(cursor, after=after, upto=upto)
        # Recorded even when the range holds no event (ids skipped by rollbacks), so the
        # watermark moves past it.
        batch = Batch.objects.create(
            created_at=timezone.now(), first_id=after + 1, last_id=upto, size=size
        )
    return ProcessedBatch(batch_id=batch.pk, size=size)


def events_process_pending(
    *,
    limit: int | None = None,
    max_events: int | None = None,
    on_batch: Callable[[ProcessedBatch], object] | None = None,
) -> int:
    """Process batches until nothing is pending (or ``max_events`` are done). Returns a count."""
    total = 0
    while max_events is None or total < max_events:
        claim = limit or settings.ANALYTICS_PROCESS_CLAIM
        if max_events is not None:
            claim = min(claim, max_events - total)
        processed = events_process_batch(limit=claim)
        if processed is None:
            break
        total += processed.size
        if on_batch is not None:
            on_batch(processed)
    if total:
        logger.info("analytics: processed %d events", total)
    return total


def rollups_rebuild() -> list[RollupDifference]:
    """Recompute every rollup from the processed events of the log; returns what differed.

    Holds the processor lock (PostgreSQL; SQLite's IMMEDIATE transaction excludes other
    writers), so the watermark and the rollups it rebuilds belong together.
    """
    from analytics.selectors import watermark_get

    with transaction.atomic(), connection.cursor() as cursor:
        fold.processor_lock(cursor)
        differences = rollup_differences()
        if differences:
            fold.rollups_clear(cursor)
            fold.rollups_fold(cursor, after=0, upto=watermark_get())
    for difference in differences:
        logger.warning("analytics: repaired %s %s", difference.table, difference.detail)
    return differences
