"""Data of the analytics domain: owners' apps and keys, the event log, and the rollups.

- ``App`` belongs to one owner (a Django user); ``ApiKey`` rows are its keys, stored as a
  SHA-256 hash found by a short public prefix (docs/decisions/0050-analytics-api-keys.md). At
  most one key per app is live; regenerating revokes the previous one.
- ``Event`` is the append-only log. Collect commits each event before answering 202.
- Processing advances a watermark exactly as in ingestion: ``Batch`` rows cover contiguous id
  ranges; an event is processed exactly when its id is at most the highest ``last_id``.
- Rollups, written only by the processor: ``DailyCount`` (app, event, day, device → count),
  ``DailyUserSet`` (app, event, day → a bitmap of the day's distinct users, numbered by the
  ``UserKey`` dictionary, so unique users over any range are exact;
  docs/decisions/0066-analytics-user-bitmaps.md) and ``UserStat`` (app, userId → count and the
  device details of the latest event).
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Device(models.TextChoices):
    MOBILE = "mobile", "mobile"
    DESKTOP = "desktop", "desktop"
    TABLET = "tablet", "tablet"
    OTHER = "other", "other"


class Owner(User):
    """Django accounts seen as analytics owners (a proxy: same rows, the admin's own page)."""

    class Meta:
        proxy = True
        verbose_name = "owner"


class App(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=255)
    domain = models.URLField(max_length=2048)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "created_at"], name="analytics_app_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class ApiKey(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="keys")
    # The public part of the key: it finds the row; the secret part is only hashed.
    prefix = models.CharField(max_length=16, unique=True)
    # sha256 hex of the whole key; never shown (the admin excludes it).
    hashed_key = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["app"],
                condition=Q(revoked_at__isnull=True),
                name="analytics_apikey_one_live_per_app",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.app_id})"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class Batch(models.Model):
    """One processor run that folded ``size`` events (ids ``first_id..last_id``)."""

    created_at = models.DateTimeField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    size = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["last_id"], name="analytics_batch_unique_last_id"),
            models.UniqueConstraint(fields=["first_id"], name="analytics_batch_unique_first_id"),
            models.CheckConstraint(
                condition=Q(first_id__lte=models.F("last_id")), name="analytics_batch_range"
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.size} events)"


class Event(models.Model):
    # No database constraint (decision 0055): PROTECT is enforced by Django, the key comes from
    # an authenticated API key, and a deferred check per row cost every collect's commit.
    app = models.ForeignKey(
        App, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    event = models.CharField(max_length=255)
    url = models.CharField(max_length=2048, blank=True, default="")
    referrer = models.CharField(max_length=2048, blank=True, default="")
    # Empty when the event named no device; summaries show it as "unknown".
    device = models.CharField(max_length=8, blank=True, default="", choices=Device.choices)
    ip_address = models.GenericIPAddressField()
    user_id = models.CharField(max_length=255, null=True, blank=True)
    # Who counts as one user: "u:<userId>", or "i:<ipAddress>" for events without a userId.
    user_key = models.CharField(max_length=260)
    browser = models.CharField(max_length=255, blank=True, default="")
    os = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(null=True, blank=True)
    timestamp = models.DateTimeField()
    day = models.DateField()  # the UTC date of ``timestamp``
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        # No index but the primary key: reads scan the pending events by id above the
        # watermark (decision 0068: an index by user cost a third of the batch throughput).

    def __str__(self) -> str:
        return f"{self.event} ({self.app_id})"


class DailyCount(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.CharField(max_length=255)
    day = models.DateField()
    device = models.CharField(max_length=8, blank=True, default="")
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "event"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "app", "day", "device"], name="analytics_dailycount_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.day} {self.device or 'unknown'}: {self.count}"


class UserKey(models.Model):
    """The dictionary of user keys: each distinct ``Event.user_key`` the processor has folded,
    numbered so that a day's users can be a bitmap of numbers (``DailyUserSet``). Written only
    by processors and rebuilds, under the processor lock; a number is never reused."""

    # 32 bits, as the bitmaps hold them (docs/decisions/0066-analytics-user-bitmaps.md).
    id = models.AutoField(primary_key=True)
    key = models.CharField(max_length=260)

    class Meta:
        verbose_name = "user key"
        ordering = ["id"]
        # A constraint, not ``unique=True``: on PostgreSQL that would add a second index
        # (varchar_pattern_ops, for LIKE), which nothing reads and every new key writes.
        constraints = [models.UniqueConstraint(fields=["key"], name="analytics_userkey_unique")]

    def __str__(self) -> str:
        return f"{self.id}: {self.key}"


class DailyUserSet(models.Model):
    """The distinct users of one event in one app on one day: a roaring bitmap of ``UserKey``
    ids (``users``, serialised by pyroaring) and its size. Unique users over any range and set
    of apps are the size of the union of the range's bitmaps, exact."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.CharField(max_length=255)
    day = models.DateField()
    users = models.BinaryField()
    user_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "daily unique users"
        verbose_name_plural = "daily unique users"
        ordering = ["-day", "event"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "app", "day"], name="analytics_dailyuserset_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.day}: {self.user_count} users"


class UserStat(models.Model):
    app = models.ForeignKey(
        App, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    user_id = models.CharField(max_length=255)
    total_events = models.BigIntegerField(default=0)
    # The latest event by (timestamp, id) and its device details.
    last_timestamp = models.DateTimeField()
    last_event_id = models.BigIntegerField()
    browser = models.CharField(max_length=255, blank=True, default="")
    os = models.CharField(max_length=255, blank=True, default="")
    ip_address = models.GenericIPAddressField()

    class Meta:
        verbose_name = "user statistics"
        verbose_name_plural = "user statistics"
        ordering = ["user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "app"], name="analytics_userstat_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.total_events}"
