"""Data of the ingestion domain: the append-only event log, processing batches, totals.

Events are never updated (but for the rare ``out_of_range`` mark). Processing advances a
watermark: each ``Batch`` covers the id range ``first_id..last_id`` of the log, ranges are
contiguous, and an event is processed exactly when its id is at most the last batch's
``last_id`` (docs/decisions/0022-processing-watermark.md).
Folding a range is one aggregate over a primary-key range plus one upsert per user, with no
per-event write, which is what makes the processor fast.
"""

from django.db import models
from django.db.models import Q


class EventName(models.TextChoices):
    ADD_REVENUE = "add_revenue", "add revenue"
    SUBTRACT_REVENUE = "subtract_revenue", "subtract revenue"


class Batch(models.Model):
    """One processor run that folded ``size`` events of ``users`` users into the totals."""

    created_at = models.DateTimeField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    size = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)
    # Events of the range left out because they would have taken a total out of range.
    out_of_range = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-id"]
        constraints = [
            # Ranges never overlap; the index also answers MAX(last_id) (the watermark).
            models.UniqueConstraint(fields=["last_id"], name="ingestion_batch_unique_last_id"),
            models.UniqueConstraint(fields=["first_id"], name="ingestion_batch_unique_first_id"),
            models.CheckConstraint(
                condition=Q(first_id__lte=models.F("last_id")), name="ingestion_batch_range"
            ),
        ]

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
    # Set by the processor, the one update an event ever gets: counting this event would have
    # taken the user's total out of the BIGINT range, so it was left out of the total
    # (docs/decisions/0024-revenue-range.md).
    out_of_range = models.BooleanField(default=False, db_default=False)

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
            # GET /userEvents counts a user's pending events (id above the watermark).
            models.Index(fields=["user_id", "id"], name="ingestion_event_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.name} {self.value}"


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
