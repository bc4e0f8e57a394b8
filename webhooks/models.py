"""Data of the webhooks domain: collection requests and the work they make, as rows.

A request names providers and a callback. Each provider of it is one ``ProviderFetch`` row and,
once every fetch has ended, the callback is one ``Delivery`` row. Both carry their state, an
attempt count, the time of their next attempt and a lease (``claimed_until``) so that the work
of a worker that died is taken again. Every HTTP attempt of either is one ``Attempt`` row.
``ProviderBreaker`` is the circuit breaker of one provider; ``MockProvider`` holds the run-time
failure settings of the mock providers served at ``/providers/{name}``.
"""

import uuid

from django.db import models
from django.db.models import Q

EXCERPT_MAX_CHARS = 500


class CollectionStatus(models.TextChoices):
    COLLECTING = "collecting", "Collecting"
    DELIVERING = "delivering", "Delivering"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class CollectionRequest(models.Model):
    # The id is the secret that grants read access to the request (an unguessable UUID4).
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    providers = models.JSONField()
    callback_url = models.URLField(max_length=2048)
    callback_host = models.CharField(max_length=255, db_index=True)
    status = models.CharField(
        max_length=16, choices=CollectionStatus.choices, default=CollectionStatus.COLLECTING
    )
    deadline_at = models.DateTimeField()
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CollectionStatus.values),
                name="webhooks_request_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(deadline_at__gt=models.F("created_at")),
                name="webhooks_request_deadline_after_creation",
            ),
        ]
        indexes = [
            models.Index(
                fields=["deadline_at"],
                condition=Q(status="collecting"),
                name="webhooks_request_collecting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class FetchState(models.TextChoices):
    PENDING = "pending", "Pending"
    FETCHED = "fetched", "Fetched"
    FAILED = "failed", "Failed"


class ProviderFetch(models.Model):
    request = models.ForeignKey(CollectionRequest, on_delete=models.CASCADE, related_name="fetches")
    provider = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=FetchState.choices, default=FetchState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Kept once fetched and never fetched again.
    data = models.JSONField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=EXCERPT_MAX_CHARS, blank=True)

    class Meta:
        ordering = ["request", "provider"]
        constraints = [
            models.UniqueConstraint(fields=["request", "provider"], name="webhooks_one_fetch"),
            models.CheckConstraint(
                condition=Q(state__in=FetchState.values), name="webhooks_fetch_state_valid"
            ),
            # Pending work always has a time; finished work never does, and fetched has data.
            models.CheckConstraint(
                condition=(
                    Q(state="pending", next_attempt_at__isnull=False)
                    | Q(state="fetched", next_attempt_at__isnull=True, data__isnull=False)
                    | Q(state="failed", next_attempt_at__isnull=True)
                ),
                name="webhooks_fetch_state_fields",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="webhooks_fetch_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} of {self.request_id} ({self.state})"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    request = models.OneToOneField(
        CollectionRequest, on_delete=models.CASCADE, related_name="delivery"
    )
    # The Standard Webhooks message id: the same across retries and redeliveries.
    webhook_id = models.CharField(max_length=64, unique=True)
    # The exact bytes sent every time (the signature covers them).
    body = models.TextField()
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    window_ends_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=EXCERPT_MAX_CHARS, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="webhooks_delivery_state_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(state="pending", next_attempt_at__isnull=False)
                    | Q(state="delivered", next_attempt_at__isnull=True, delivered_at__isnull=False)
                    | Q(state="failed", next_attempt_at__isnull=True)
                ),
                name="webhooks_delivery_state_fields",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="webhooks_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.state})"


class FailedDelivery(Delivery):
    """The failed-deliveries view of the admin (the same rows)."""

    class Meta:
        proxy = True
        verbose_name = "failed delivery"
        verbose_name_plural = "failed deliveries"


class AttemptKind(models.TextChoices):
    FETCH = "fetch", "Provider fetch"
    DELIVERY = "delivery", "Callback delivery"


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    RETRY = "retry", "Failed, will retry"
    FAILED = "failed", "Failed for good"


class Attempt(models.Model):
    request = models.ForeignKey(
        CollectionRequest, on_delete=models.CASCADE, related_name="attempts"
    )
    kind = models.CharField(max_length=16, choices=AttemptKind.choices)
    provider = models.CharField(max_length=64, blank=True)  # blank for deliveries
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=EXCERPT_MAX_CHARS, blank=True)
    error = models.CharField(max_length=EXCERPT_MAX_CHARS, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "kind", "provider", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "kind", "provider", "number"], name="webhooks_attempt_number"
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1), name="webhooks_attempt_number_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(kind="fetch", provider__gt="") | Q(kind="delivery", provider=""),
                name="webhooks_attempt_provider_iff_fetch",
            ),
            models.CheckConstraint(
                condition=Q(outcome="retry", next_attempt_at__isnull=False)
                | ~Q(outcome="retry") & Q(next_attempt_at__isnull=True),
                name="webhooks_attempt_next_iff_retry",
            ),
        ]

    def __str__(self) -> str:
        what = self.provider or "callback"
        return f"{what} #{self.number} {self.outcome}"


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed (calls go through)"
    OPEN = "open", "Open (calls paused)"
    HALF_OPEN = "half_open", "Half-open (one probe decides)"


class ProviderBreaker(models.Model):
    provider = models.CharField(max_length=64, primary_key=True)
    state = models.CharField(
        max_length=16, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    open_until = models.DateTimeField(null=True, blank=True)
    # While half-open: until when the probe in flight holds the right to decide.
    probe_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="closed")
                | Q(state="open", open_until__isnull=False)
                | Q(state="half_open", probe_until__isnull=False),
                name="webhooks_breaker_state_fields",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.state}"


class MockProvider(models.Model):
    """Failure injection of one mock provider, changeable at run time (admin, API)."""

    name = models.CharField(max_length=64, primary_key=True)
    failure_rate = models.FloatField()
    outage_until = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(failure_rate__gte=0, failure_rate__lte=1),
                name="webhooks_mock_failure_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(latency_ms__lte=60_000), name="webhooks_mock_latency_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name
