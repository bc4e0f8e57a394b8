"""Data of the ingestion domain: the durable event log, processing batches, revenue per user.

An event is pending while ``batch`` is empty; the processor claims pending events, adds each
user's net change to ``users_revenue`` and sets ``batch`` on them, in one transaction.
Processed events stay in the log (audit, replay, ``rebuild_revenue``).

Indexes are few on purpose: processing updates every event row once, and every index that
holds the row costs a write. The two pending indexes are partial (``batch IS NULL``), so a
processed row leaves them instead of adding entries.
"""

from django.db import models
from django.db.models import Q


class EventName(models.TextChoices):
    ADD_REVENUE = "add_revenue", "add revenue"
    SUBTRACT_REVENUE = "subtract_revenue", "subtract revenue"


class Batch(models.Model):
    """One processor run that folded ``size`` events of ``users`` users into the totals."""

    created_at = models.DateTimeField()
    size = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.size} events)"


class Event(models.Model):
    user_id = models.CharField(max_length=255)
    name = models.CharField(max_length=16, choices=EventName.choices)
    value = models.BigIntegerField()
    # The signed change to the user's revenue (+value or -value), so processing is one SUM.
    amount = models.BigIntegerField()
    # eventId or the Idempotency-Key header; unique per credential while it is kept (see
    # docs/decisions/0021-idempotency.md). Cleared after the retention window.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # Which configured secret sent the event: a short hash of it, never the secret itself.
    credential = models.CharField(max_length=16)
    received_at = models.DateTimeField()
    batch = models.ForeignKey(
        Batch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="ingestion_event_unique_key_per_credential",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0) & Q(value__lte=2**53 - 1),
                name="ingestion_event_value_range",
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(batch__isnull=True), name="ingestion_event_pending"
            ),
            models.Index(
                fields=["user_id"],
                condition=Q(batch__isnull=True),
                name="ingestion_event_pending_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.name} {self.value}"

    @property
    def processed(self) -> bool:
        return self.batch_id is not None


class UserRevenue(models.Model):
    """The processed revenue total of one user (the sum of its processed events' amounts)."""

    user_id = models.CharField(max_length=255, primary_key=True)
    revenue = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "users_revenue"
        verbose_name = "user revenue"
        verbose_name_plural = "users' revenue"
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.revenue}"
