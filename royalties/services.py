"""Writes of the royalties domain: creating, queueing and executing consolidation runs.

``run_execute`` is the consolidation. In one transaction it streams the log into ``Entry``
rows (``COPY`` on PostgreSQL), lets the database aggregate seconds per user and per track with
``GROUP BY``, merges those aggregates with the subscribers and the metadata (both held in memory:
they grow with users and tracks, never with streams), and splits the exact revenue over the
labels and the unattributed line with the largest-remainder rule. If anything fails the
transaction rolls back and the run is marked failed with a message that names the problem.
"""

import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from core.errors import ApplicationError, ConflictError, NotFoundError
from royalties.bulk import copy_escape, copy_lines, rows_insert
from royalties.loaders import (
    Rejections,
    StreamRow,
    file_sha256,
    metadata_fetch,
    metadata_read,
    streams_read,
    subscribers_read,
)
from royalties.models import Entry, Label, RevenueShare, Run, Subscriber, Track, run_id_range
from royalties.rounding import amounts_split, cents_round

logger = logging.getLogger(__name__)

UNATTRIBUTED = object()  # the key of the unattributed line among the label amounts
EXAMPLES_IN_WARNINGS = 5
SHARE_PLACES = Decimal("0.00000001")

Progress = Callable[[int, int], None]


def inputs_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "royalties" / "inputs"


def _is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def run_create(
    *,
    streams_path: str,
    users_path: str,
    tracks_path: str = "",
    tracks_url: str = "",
    rerun_of: Run | None = None,
) -> Run:
    """A queued run over inputs the worker can read. Does not enqueue it (see run_enqueue)."""
    if bool(tracks_path) == bool(tracks_url):
        raise ApplicationError("Give the track metadata as exactly one of a file or a URL.")
    if tracks_url and not _is_url(tracks_url):
        raise ApplicationError(f"The metadata URL must be http(s): {tracks_url!r}.")
    paths = {"streams": streams_path, "users": users_path}
    if tracks_path:
        paths["tracks"] = tracks_path
    for name, path in paths.items():
        if not Path(path).is_file():
            raise ApplicationError(f"{name}: no such file: {path}", code="input_missing")
    return Run.objects.create(
        streams_path=str(Path(streams_path).resolve()),
        users_path=str(Path(users_path).resolve()),
        tracks_path=str(Path(tracks_path).resolve()) if tracks_path else "",
        tracks_url=tracks_url,
        rerun_of=rerun_of,
    )


def _run_task_enqueue(run_id: int) -> None:
    from django_q.tasks import async_task

    async_task("royalties.tasks.run_execute_task", run_id, task_name=f"royalties-run-{run_id}")


def run_enqueue(*, run: Run) -> None:
    """Hand the run to the worker once the transaction that created it has committed."""
    run_id = run.pk
    transaction.on_commit(lambda: _run_task_enqueue(run_id))


def runs_sweep() -> dict[str, int]:
    """Repair runs whose worker task was lost: the schedule ``royalties.sweep_runs`` calls this.

    - A run still queued after ``ROYALTIES_QUEUED_STALE_SECONDS`` is enqueued again (the task
      does nothing for a run that is no longer queued, so a duplicate is harmless).
    - A run still running after the worker's task timeout (plus a margin) lost its worker: the
      consolidation is one transaction, so nothing of it was stored; it is marked failed with a
      message saying so, and the operator re-runs it.
    """
    now = timezone.now()
    queued_before = now - timezone.timedelta(seconds=settings.ROYALTIES_QUEUED_STALE_SECONDS)
    requeued = 0
    for run_id in Run.objects.filter(
        status=Run.Status.QUEUED, created_at__lt=queued_before
    ).values_list("pk", flat=True):
        _run_task_enqueue(run_id)
        requeued += 1
    lost_after = settings.Q_CLUSTER["timeout"] + 300
    lost = Run.objects.filter(
        status=Run.Status.RUNNING, started_at__lt=now - timezone.timedelta(seconds=lost_after)
    ).update(
        status=Run.Status.FAILED,
        finished_at=now,
        error=(
            f"The worker stopped during the run (no result after {lost_after} s); nothing was "
            "stored. Re-run it."
        ),
    )
    if requeued or lost:
        logger.warning(
            "royalties sweep: %d queued runs re-enqueued, %d lost runs failed", requeued, lost
        )
    return {"requeued": requeued, "failed": lost}


def _upload_store(upload: UploadedFile, *, dest: Path) -> str:
    with open(dest, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return str(dest)


def _upload_dest(directory: Path, role: str, upload: UploadedFile) -> Path:
    """``<directory>/<role>/<the uploaded file's own name>``: one folder per input, so two
    inputs with the same name never collide, and the run shows the names the operator sent."""
    try:
        name = get_valid_filename(Path(upload.name or "").name)
    except SuspiciousFileOperation:  # nothing usable left of the name ("", "..")
        name = role
    (directory / role).mkdir()
    return directory / role / name


def run_submit(
    *,
    streams: UploadedFile,
    users: UploadedFile,
    tracks: UploadedFile | None,
    tracks_url: str,
) -> Run:
    """Store uploaded inputs under MEDIA_ROOT, create the run and enqueue it."""
    directory = inputs_dir() / uuid.uuid4().hex
    directory.mkdir(parents=True)
    try:
        streams_path = _upload_store(streams, dest=_upload_dest(directory, "streams", streams))
        users_path = _upload_store(users, dest=_upload_dest(directory, "users", users))
        tracks_path = (
            _upload_store(tracks, dest=_upload_dest(directory, "tracks", tracks)) if tracks else ""
        )
        with transaction.atomic():
            run = run_create(
                streams_path=streams_path,
                users_path=users_path,
                tracks_path=tracks_path,
                tracks_url="" if tracks else tracks_url,
            )
            run_enqueue(run=run)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return run


def run_rerun(*, run: Run, enqueue: bool = True) -> Run:
    """A new queued run over the same inputs (the metadata snapshot if it came from a URL)."""
    if run.status in (Run.Status.QUEUED, Run.Status.RUNNING):
        raise ConflictError(f"Run {run.pk} is {run.status}; wait for it to finish.")
    tracks_path, tracks_url = run.tracks_path, run.tracks_url
    if tracks_url and tracks_path and Path(tracks_path).is_file():
        tracks_url = ""  # replay the snapshot: same inputs, same numbers
    elif tracks_url:
        tracks_path = ""
    with transaction.atomic():
        new_run = run_create(
            streams_path=run.streams_path,
            users_path=run.users_path,
            tracks_path=tracks_path,
            tracks_url=tracks_url,
            rerun_of=run,
        )
        if enqueue:
            run_enqueue(run=new_run)
    return new_run


@dataclass
class _Outcome:
    checksums: dict
    rows: dict
    warnings: list[str]
    errors: list[dict]
    revenue: Decimal
    total_seconds: int
    unattributed_seconds: int
    unattributed_streams: int
    unattributed_amount: Decimal


class _RunFailure(Exception):
    def __init__(self, message: str, *, rows: dict, errors: list[dict], checksums: dict) -> None:
        super().__init__(message)
        self.message, self.rows, self.errors, self.checksums = message, rows, errors, checksums


def run_execute(
    *,
    run_id: int,
    progress: Progress | None = None,
    max_rejected_fraction: Decimal | None = None,
) -> Run:
    """Consolidate a queued run. Returns it succeeded or failed; raises only if not queued.

    ``max_rejected_fraction`` overrides ``ROYALTIES_MAX_REJECTED_FRACTION`` for this run.
    """
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        run = Run.objects.filter(pk=run_id).first()
        if run is None:
            raise NotFoundError(f"Run {run_id} does not exist.")
        raise ConflictError(f"Run {run_id} is {run.status}; only a queued run can be executed.")
    run = Run.objects.get(pk=run_id)
    phase = _Phases(run.pk)
    try:
        with transaction.atomic():
            outcome = _consolidate(
                run, progress=progress, phase=phase, max_rejected_fraction=max_rejected_fraction
            )
            Run.objects.filter(pk=run.pk).update(
                status=Run.Status.SUCCEEDED,
                finished_at=timezone.now(),
                tracks_path=run.tracks_path,
                error="",
                timings=phase.seconds(),
                **outcome.__dict__,
            )
        phase("commit")
        phase.log()
    except _RunFailure as failure:
        _run_fail(
            run,
            failure.message,
            rows=failure.rows,
            errors=failure.errors,
            checksums=failure.checksums,
        )
    except ApplicationError as exc:
        _run_fail(run, exc.detail, checksums={})
    except Exception as exc:
        logger.exception("royalties run %s failed", run.pk)
        _run_fail(run, f"internal error: {type(exc).__name__}: {exc}", checksums={})
    run.refresh_from_db()
    return run


def _run_fail(run: Run, message: str, *, checksums: dict, rows=None, errors=None) -> None:
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.FAILED,
        finished_at=timezone.now(),
        error=message,
        rows=rows or {},
        errors=errors or [],
        checksums=checksums,
        tracks_path=run.tracks_path,
    )


class _Phases:
    """Times each phase of a run; one log line at the end tells an operator where time went."""

    def __init__(self, run_id: int) -> None:
        self.run_id, self.last = run_id, time.perf_counter()
        self.timings: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 3)
        self.last = now

    def seconds(self) -> dict[str, float]:
        return dict(self.timings)

    def log(self) -> None:
        phases = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in self.timings.items())
        logger.info("royalties run %s phases: %s", self.run_id, phases)


def _consolidate(
    run: Run,
    *,
    progress: Progress | None,
    phase: "_Phases",
    max_rejected_fraction: Decimal | None = None,
) -> _Outcome:
    if run.tracks_url:
        snapshot = inputs_dir() / "metadata" / f"run-{run.pk}-tracks.json"
        metadata_fetch(run.tracks_url, dest=snapshot)
        run.tracks_path = str(snapshot)
    for name, path in (
        ("streams", run.streams_path),
        ("users", run.users_path),
        ("tracks", run.tracks_path),
    ):
        if not Path(path).is_file():
            raise ApplicationError(f"{name}: the input file is gone: {path}")
    checksums = {
        "streams": file_sha256(run.streams_path),
        "users": file_sha256(run.users_path),
        "tracks": file_sha256(run.tracks_path),
    }
    phase("fetch and checksums")
    metadata = metadata_read(run.tracks_path)
    shares = {share.origin: share.share for share in RevenueShare.objects.all()}
    listed = settings.ROYALTIES_MAX_ERRORS_LISTED
    user_rejections = Rejections("users", listed)
    with open(run.users_path, "rb") as handle:
        subscribers = subscribers_read(handle, shares=shares, rejections=user_rejections)

    phase("metadata and subscribers")
    stream_rejections = Rejections("streams", listed)
    with open(run.streams_path, "rb") as handle:
        loaded = _entries_load(
            run.pk, streams_read(handle, rejections=stream_rejections, progress=progress)
        )
    rejected = stream_rejections.count
    phase("streaming log")
    counts = {"read": loaded + rejected, "loaded": loaded, "rejected": rejected}
    errors = stream_rejections.listed + user_rejections.listed
    limit = (
        settings.ROYALTIES_MAX_REJECTED_FRACTION
        if max_rejected_fraction is None
        else max_rejected_fraction
    )
    for name, bad, total in (
        ("streams", rejected, loaded + rejected),
        ("users", user_rejections.count, user_rejections.count + len(subscribers)),
    ):
        if total and Decimal(bad) / Decimal(total) > limit:
            raise _RunFailure(
                f"{name}: {bad} of {total} rows rejected, more than the allowed "
                f"{(limit * 100).normalize():f}%; see the errors for their line numbers.",
                rows=counts,
                errors=errors,
                checksums=checksums,
            )

    warnings = list(metadata.warnings)
    with localcontext() as context:
        context.prec = 60  # wide enough that summing fee x share never rounds
        revenue_exact = sum((s.contribution for s in subscribers.values()), Decimal(0))

    user_totals, track_totals = _entries_aggregate(run.pk)
    total_seconds = sum(seconds for seconds, _ in track_totals.values())
    phase("aggregates")

    # Subscribers and listeners: one row per user of either file, in user_id order so that
    # the unique index grows at its right edge instead of splitting pages all over.
    absent_ids: list[str] = []
    absent_streams = absent_seconds = 0
    first_id, _ = run_id_range(run.pk)
    subscriber_rows = []
    for user_id in sorted(subscribers.keys() | user_totals.keys()):
        seconds, streams = user_totals.get(user_id, (0, 0))
        row = subscribers.get(user_id)
        if row is None:
            absent_ids.append(user_id)
            absent_streams += streams
            absent_seconds += seconds
            fields = (False, "", None, "", Decimal(0))
        else:
            fields = (True, row.product_type, row.fee, row.origin, row.contribution)
        subscriber_rows.append(
            (first_id + len(subscriber_rows) + 1, run.pk, user_id, *fields, seconds, streams)
        )
    del user_totals
    rows_insert(
        table=Subscriber._meta.db_table,
        columns=(
            "id",
            "run_id",
            "user_id",
            "subscribed",
            "product_type",
            "fee",
            "origin",
            "contribution",
            "seconds",
            "streams",
        ),
        rows=subscriber_rows,
    )
    del subscriber_rows
    if absent_ids:
        examples = ", ".join(absent_ids[:EXAMPLES_IN_WARNINGS])
        warnings.append(
            f"{absent_streams} streams ({absent_seconds} s) by {len(absent_ids)} users absent from "
            f"the subscribers file (e.g. {examples}): counted in the seconds, no fee."
        )

    phase("subscribers stored")
    # Tracks and labels.
    label_totals: dict[str, list[int]] = {}  # label -> [tracks, streams, seconds]
    track_rows = []
    for track_id in sorted(metadata.tracks):
        name, label = metadata.tracks[track_id]
        seconds, streams = track_totals.pop(track_id, (0, 0))
        track_rows.append(
            (first_id + len(track_rows) + 1, run.pk, track_id, name, label, seconds, streams)
        )
        totals = label_totals.setdefault(label, [0, 0, 0])
        totals[0] += 1
        totals[1] += streams
        totals[2] += seconds
    rows_insert(
        table=Track._meta.db_table,
        columns=("id", "run_id", "track_id", "name", "label", "seconds", "streams"),
        rows=track_rows,
    )
    del track_rows
    unattributed_seconds = sum(seconds for seconds, _ in track_totals.values())
    unattributed_streams = sum(streams for _, streams in track_totals.values())
    if track_totals:
        examples = ", ".join(sorted(track_totals)[:EXAMPLES_IN_WARNINGS])
        warnings.append(
            f"{unattributed_streams} streams ({unattributed_seconds} s) of {len(track_totals)} "
            f"tracks absent from the metadata (e.g. {examples}) are unattributed: their amount "
            f"is withheld."
        )

    labels = sorted(label_totals)
    if total_seconds:
        weights = {label: label_totals[label][2] for label in labels}
        weights[UNATTRIBUTED] = unattributed_seconds
        amounts = amounts_split(total=revenue_exact, weights=weights)
    else:
        amounts = {label: Decimal("0.00") for label in labels}
        amounts[UNATTRIBUTED] = cents_round(revenue_exact)
        warnings.append("The streaming log has no seconds: the whole revenue is unattributed.")
    Label.objects.bulk_create(
        [
            Label(
                run_id=run.pk,
                name=label,
                tracks=label_totals[label][0],
                streams=label_totals[label][1],
                seconds=label_totals[label][2],
                share=(
                    (Decimal(label_totals[label][2]) / Decimal(total_seconds)).quantize(
                        SHARE_PLACES
                    )
                    if total_seconds
                    else Decimal(0)
                ),
                amount=amounts[label],
            )
            for label in labels
        ],
        batch_size=1000,
    )
    phase("tracks and labels stored")
    if rejected:
        warnings.append(f"{rejected} rows of the streaming log were rejected (see the errors).")
    if user_rejections.count:
        warnings.append(
            f"{user_rejections.count} rows of the subscribers file were rejected (see the errors)."
        )
    return _Outcome(
        checksums=checksums,
        rows=counts,
        warnings=warnings,
        errors=errors,
        revenue=cents_round(revenue_exact),
        total_seconds=total_seconds,
        unattributed_seconds=unattributed_seconds,
        unattributed_streams=unattributed_streams,
        unattributed_amount=amounts[UNATTRIBUTED],
    )


ENTRY_COLUMNS = ("id", "run_id", "line", "date", "user_id", "region", "track_id", "seconds")


def _entries_load(run_id: int, rows: Iterator[StreamRow]) -> int:
    first_id, _ = run_id_range(run_id)
    table = Entry._meta.db_table
    if connection.vendor != "postgresql":
        return rows_insert(
            table=table,
            columns=ENTRY_COLUMNS,
            rows=(
                (first_id + line, run_id, line, date, user_id, region, track_id, int(seconds))
                for line, date, user_id, region, track_id, seconds in rows
            ),
        )

    def lines() -> Iterator[str]:
        for line, date, user_id, region, track_id, seconds in rows:
            head = f"{first_id + line}\t{run_id}\t{line}\t{date}\t"
            text = f"{head}{user_id}\t{region}\t{track_id}\t{seconds}\n"
            # Ids with a tab, newline or backslash (rare) need COPY's escapes.
            if text.count("\t") != 7 or text.count("\n") != 1 or "\\" in text or "\r" in text:
                escaped = "\t".join(copy_escape(field) for field in (user_id, region, track_id))
                text = f"{head}{escaped}\t{seconds}\n"
            yield text

    return copy_lines(table=table, columns=ENTRY_COLUMNS, lines=lines())


def _entries_aggregate(run_id: int) -> tuple[dict[str, tuple[int, int]], dict]:
    """(seconds, streams) per user and per track of a run's entries, summed by the database."""
    table = connection.ops.quote_name(Entry._meta.db_table)
    users: dict[str, tuple[int, int]] = {}
    tracks: dict[str, tuple[int, int]] = {}
    first_id, end_id = run_id_range(run_id)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Room for the per-user and per-track hash tables without spilling to disk.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            # Freshly loaded rows have no statistics yet; the planner then picks a bitmap scan
            # that costs ~70% more than walking the primary key over the run's id range.
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            # One scan of the entries feeds both hash aggregates.
            cursor.execute(
                f"SELECT GROUPING(user_id), user_id, track_id, SUM(seconds), COUNT(*) "
                f"FROM {table} WHERE id >= %s AND id < %s "
                f"GROUP BY GROUPING SETS ((user_id), (track_id))",
                [first_id, end_id],
            )
            for by_track, user_id, track_id, seconds, streams in cursor:
                if by_track:
                    tracks[track_id] = (int(seconds), streams)
                else:
                    users[user_id] = (int(seconds), streams)
            return users, tracks
        for column, target in (("user_id", users), ("track_id", tracks)):
            cursor.execute(
                f"SELECT {column}, SUM(seconds), COUNT(*) FROM {table} "
                f"WHERE id >= %s AND id < %s GROUP BY {column}",
                [first_id, end_id],
            )
            for key, seconds, streams in cursor:
                target[key] = (int(seconds), streams)
    return users, tracks
