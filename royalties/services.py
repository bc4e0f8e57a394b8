"""Writes of the royalties domain: creating, queueing and executing consolidation runs.

``run_execute`` claims a queued run and consolidates it (``royalties.consolidation``) in one
transaction: the run ends succeeded with its numbers, or failed with a message that names the
problem and nothing of it stored.
"""

import dataclasses
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from core.errors import ApplicationError, ConflictError, NotFoundError
from royalties.models import Run
from royalties.storage import inputs_dir

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

__all__ = [
    "inputs_dir",
    "run_create",
    "run_enqueue",
    "run_execute",
    "run_rerun",
    "run_submit",
    "runs_sweep",
]


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
    queued_before = now - timedelta(seconds=settings.ROYALTIES_QUEUED_STALE_SECONDS)
    requeued = 0
    for run_id in Run.objects.filter(
        status=Run.Status.QUEUED, created_at__lt=queued_before
    ).values_list("pk", flat=True):
        _run_task_enqueue(run_id)
        requeued += 1
    lost_after = cast(int, settings.Q_CLUSTER["timeout"]) + 300
    lost = Run.objects.filter(
        status=Run.Status.RUNNING, started_at__lt=now - timedelta(seconds=lost_after)
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


def _upload_store(upload: UploadedFile[Any], *, dest: Path) -> str:
    with open(dest, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return str(dest)


def _upload_dest(directory: Path, role: str, upload: UploadedFile[Any]) -> Path:
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
    streams: UploadedFile[Any],
    users: UploadedFile[Any],
    tracks: UploadedFile[Any] | None,
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


def run_execute(
    *,
    run_id: int,
    progress: Progress | None = None,
    max_rejected_fraction: Decimal | None = None,
) -> Run:
    """Consolidate a queued run. Returns it succeeded or failed; raises only if not queued.

    ``max_rejected_fraction`` overrides ``ROYALTIES_MAX_REJECTED_FRACTION`` for this run.
    """
    _run_claim(run_id)
    # Imported here: Arrow and numpy cost ~90 MB and most of a second to import, which only a
    # process that consolidates (the worker, the command) should pay, not every web worker.
    from royalties.consolidation import RunFailedError, consolidate

    run = Run.objects.get(pk=run_id)
    phase = _Phases(run.pk)
    try:
        with transaction.atomic():
            outcome = consolidate(
                run,
                progress=progress,
                phase=phase,
                max_rejected_fraction=max_rejected_fraction,
            )
            Run.objects.filter(pk=run.pk).update(
                status=Run.Status.SUCCEEDED,
                finished_at=timezone.now(),
                tracks_path=run.tracks_path,
                error="",
                timings=phase.seconds(),
                **dataclasses.asdict(outcome),
            )
        phase("commit")
        phase.log()
    except RunFailedError as failure:
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


def _run_claim(run_id: int) -> None:
    """Mark a queued run running; NotFoundError or ConflictError when it is not queued."""
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        run = Run.objects.filter(pk=run_id).first()
        if run is None:
            raise NotFoundError(f"Run {run_id} does not exist.")
        raise ConflictError(f"Run {run_id} is {run.status}; only a queued run can be executed.")


def _run_fail(
    run: Run,
    message: str,
    *,
    checksums: dict[str, Any],
    rows: dict[str, Any] | None = None,
    errors: list[Any] | None = None,
) -> None:
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
