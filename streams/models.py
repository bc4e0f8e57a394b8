"""Data of the streams domain: viewers (with their stream limit) and stream sessions (leases).

A session is active while ``ended_at`` is null and ``expires_at`` lies after the database's
clock; nothing else decides it (see docs/decisions/0030-lease-timing.md).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Viewer(models.Model):
    user_id = models.CharField(max_length=255, unique=True)
    # Null means "the platform default" (STREAMS_DEFAULT_LIMIT), so changing the default moves
    # every viewer who never had a limit of their own.
    max_streams = models.PositiveSmallIntegerField(null=True, blank=True)
    # Why was I blocked? Counted on the (already locked) viewer row, so a refused start writes
    # no session row (docs/decisions/0031-refusals.md).
    refusal_count = models.PositiveIntegerField(default=0)
    last_refused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_streams__isnull=True) | Q(max_streams__gte=1, max_streams__lte=100),
                name="streams_viewer_max_streams_range",
            ),
        ]

    def __str__(self) -> str:
        return self.user_id

    @property
    def limit(self) -> int:
        if self.max_streams is None:
            return settings.STREAMS_DEFAULT_LIMIT
        return self.max_streams


class EndReason(models.TextChoices):
    STOPPED = "stopped", "Stopped by the client"
    EXPIRED = "expired", "Expired (no heartbeat within the lease)"
    FORCED = "forced", "Ended by an operator"


class StreamSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    viewer = models.ForeignKey(Viewer, on_delete=models.CASCADE, related_name="sessions")
    device_id = models.CharField(max_length=255, null=True, blank=True)
    content_id = models.CharField(max_length=255, null=True, blank=True)
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)

    class Meta:
        ordering = ["started_at"]
        permissions = [
            ("manage_sessions", "Can start, heartbeat and stop stream sessions (service API)"),
        ]
        constraints = [
            # A device holds at most one open session per viewer: the retry of a start from the
            # same device returns the open one; the database refuses a second one regardless.
            models.UniqueConstraint(
                fields=["viewer", "device_id"],
                condition=Q(ended_at__isnull=True, device_id__isnull=False),
                name="streams_one_open_session_per_device",
            ),
        ]
        indexes = [
            # Counting a viewer's open sessions under the lock.
            models.Index(
                fields=["viewer", "expires_at"],
                condition=Q(ended_at__isnull=True),
                name="streams_session_open_idx",
            ),
            # The housekeeping sweep of expired sessions.
            models.Index(
                fields=["expires_at"],
                condition=Q(ended_at__isnull=True),
                name="streams_session_expiry_idx",
            ),
            models.Index(fields=["ended_at"], name="streams_session_ended_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.viewer_id}:{self.id}"


class RefusalHour(models.Model):
    """Refused starts of one viewer in one hour (UTC, truncated): the bounded history of
    refusals (docs/decisions/0031-refusals.md). Counted in the refusing start's transaction,
    under the viewer's row lock it already holds, so no two starts race on a row."""

    viewer = models.ForeignKey(Viewer, on_delete=models.CASCADE, related_name="refusal_hours")
    hour = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour", "viewer"]
        verbose_name = "hourly refusal count"
        verbose_name_plural = "refusals per hour"
        constraints = [
            models.UniqueConstraint(fields=["viewer", "hour"], name="streams_refusal_hour_unique"),
        ]
        indexes = [models.Index(fields=["hour"], name="streams_refusal_hour_idx")]

    def __str__(self) -> str:
        return f"{self.viewer.user_id} at {self.hour:%Y-%m-%d %H:00} UTC"
