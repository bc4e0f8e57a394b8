"""The platform's own tables (plumbing no domain owns)."""

from django.db import models


class RateLimitCounter(models.Model):
    """Requests counted in one fixed window for one client key (the database-backed limiter).

    One row per (key, window); ``core.ratelimit`` increments it with a single upsert, which the
    database makes atomic across every web process. Old windows are pruned by a schedule.
    """

    key = models.CharField(max_length=255)
    window_start = models.BigIntegerField(help_text="Window start, in seconds since the epoch.")
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "window_start"], name="core_ratelimit_key_window"
            ),
        ]
        verbose_name = "rate-limit counter"

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start}: {self.count}"
