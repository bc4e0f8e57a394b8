"""Data of the royalties domain.

A consolidation ``Run`` reads three inputs (streaming log, subscribers, track metadata) and
stores, per run: the streaming log as ``Entry`` rows, the subscribers and listeners as
``Subscriber`` rows (one per user, with fee, revenue contribution and seconds streamed), the
metadata as ``Track`` rows (with seconds streamed) and the payout per label as ``Label`` rows.
Everything a run produced hangs off the run, so a succeeded run is a frozen, reproducible report.
``RevenueShare`` is configuration: the share of a subscriber's fee paid out, per origin.
"""

from django.db import models


class RevenueShare(models.Model):
    origin = models.CharField(max_length=32, unique=True)
    share = models.DecimalField(max_digits=5, decimal_places=4)

    class Meta:
        ordering = ["origin"]

    def __str__(self) -> str:
        return f"{self.origin}: {self.share}"


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the inputs are read from: local paths the worker can read (uploads are stored under
    # MEDIA_ROOT). tracks_url is set when the metadata came from the Metadata API; tracks_path is
    # then the snapshot taken when the run fetched it.
    streams_path = models.CharField(max_length=1024)
    users_path = models.CharField(max_length=1024)
    tracks_path = models.CharField(max_length=1024, blank=True, default="")
    tracks_url = models.CharField(max_length=2048, blank=True, default="")
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns"
    )
    checksums = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    # Seconds spent in each phase of the consolidation (where the time went).
    timings = models.JSONField(default=dict, blank=True)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    total_seconds = models.BigIntegerField(null=True, blank=True)
    unattributed_seconds = models.BigIntegerField(null=True, blank=True)
    unattributed_streams = models.BigIntegerField(null=True, blank=True)
    unattributed_amount = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-finished_at"], name="royalties_run_status_idx")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


# Rows a run loads in bulk (entries, subscribers, tracks) have ids run_id * RUN_ID_STRIDE + n
# (n = the line for entries, the ordinal for the others): the primary key then orders them by
# run, a run's rows are one id range, and loading needs no sequence (docs/decisions/0011).
RUN_ID_STRIDE = 10**10


def run_id_range(run_id: int) -> tuple[int, int]:
    """[first, last) ids a run's bulk-loaded rows can have."""
    return run_id * RUN_ID_STRIDE, (run_id + 1) * RUN_ID_STRIDE


class Subscriber(models.Model):
    """A user of a run: a subscriber (fee, origin), a listener (seconds), usually both."""

    id = models.BigIntegerField(primary_key=True)
    # Loaded in bulk by the run's own transaction: no deferred FK check per row, and no index
    # of its own (the unique constraint starts with run).
    run = models.ForeignKey(
        Run,
        on_delete=models.CASCADE,
        related_name="subscribers",
        db_constraint=False,
        db_index=False,
    )
    user_id = models.CharField(max_length=100)
    subscribed = models.BooleanField(default=True)
    product_type = models.CharField(max_length=64, blank=True, default="")
    fee = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    origin = models.CharField(max_length=32, blank=True, default="")
    contribution = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    seconds = models.BigIntegerField(default=0)
    streams = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["run", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "user_id"], name="royalties_subscriber_uniq")
        ]

    def __str__(self) -> str:
        return self.user_id


class Track(models.Model):
    id = models.BigIntegerField(primary_key=True)
    # Loaded in bulk by the run's own transaction: no deferred FK check per row, and no index
    # of its own (the unique constraint starts with run).
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="tracks", db_constraint=False, db_index=False
    )
    track_id = models.CharField(max_length=100)
    name = models.CharField(max_length=500)
    label = models.CharField(max_length=500)
    seconds = models.BigIntegerField(default=0)
    streams = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["run", "label", "name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "track_id"], name="royalties_track_uniq")
        ]
        indexes = [models.Index(fields=["run", "label"], name="royalties_track_label_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.label})"


class Label(models.Model):
    """The payout of one label in one run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="labels", db_index=False)
    name = models.CharField(max_length=500)
    tracks = models.IntegerField(default=0)
    streams = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)
    # seconds / total seconds, for display; the amount is computed from the exact ratio.
    share = models.DecimalField(max_digits=10, decimal_places=8)
    amount = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        ordering = ["run", "name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="royalties_label_uniq")]

    def __str__(self) -> str:
        return self.name


class Entry(models.Model):
    """One accepted row of a run's streaming log (``line`` is its physical line in the file)."""

    id = models.BigIntegerField(primary_key=True)
    # No FK constraint and no index: millions of rows are loaded with COPY in the run's own
    # transaction (a deferred FK check per row would cost more than the load itself), and the
    # id range already selects a run's rows through the primary key.
    run = models.ForeignKey(
        Run,
        on_delete=models.CASCADE,
        related_name="entries",
        db_index=False,
        db_constraint=False,
    )
    line = models.BigIntegerField()
    date = models.DateField()
    user_id = models.CharField(max_length=100)
    region = models.CharField(max_length=16)
    track_id = models.CharField(max_length=100)
    seconds = models.BigIntegerField()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return f"line {self.line}"
