"""Consolidate a streaming log, subscribers and track metadata into a payout report per label."""

import argparse
import os
import sys
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import ApplicationError
from royalties import selectors, services
from royalties.models import Run

ERRORS_SHOWN = 10


def _fraction(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {raw}")
    return value


class Command(BaseCommand):
    # Nothing here depends on the system checks; skipping them saves start-up time.
    requires_system_checks: list = []

    help = (
        "Consolidate --streams, --users and --tracks (a file or an http(s) URL) into a run; "
        "the report endpoints then serve it. --async hands the work to the worker."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--streams", required=True, help="streaming log (CSV)")
        parser.add_argument("--users", required=True, help="subscribers (CSV)")
        parser.add_argument("--tracks", required=True, help="track metadata: JSON file or URL")
        parser.add_argument(
            "--async", dest="run_async", action="store_true", help="enqueue on the worker"
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar, even on a terminal"
        )
        parser.add_argument(
            "--max-rejected-fraction",
            type=_fraction,
            default=None,
            metavar="F",
            help="fail the run when more than this fraction (0..1) of a file's rows is rejected "
            "(default: ROYALTIES_MAX_REJECTED_FRACTION)",
        )

    def handle(self, *args, **options) -> None:
        tracks = options["tracks"]
        is_url = tracks.lower().startswith(("http://", "https://"))
        if options["run_async"] and options["max_rejected_fraction"] is not None:
            raise CommandError("--max-rejected-fraction applies to a run in this process only")
        try:
            if options["run_async"]:
                run = services.run_create(
                    streams_path=options["streams"],
                    users_path=options["users"],
                    tracks_path="" if is_url else tracks,
                    tracks_url=tracks if is_url else "",
                )
                services.run_enqueue(run=run)
                self.stdout.write(f"run {run.pk} queued; the worker will consolidate it.")
                return
            run = services.run_create(
                streams_path=options["streams"],
                users_path=options["users"],
                tracks_path="" if is_url else tracks,
                tracks_url=tracks if is_url else "",
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from None

        show = sys.stderr.isatty() and not options["no_progress"]
        total = os.path.getsize(run.streams_path)
        with tqdm(total=total, unit="B", unit_scale=True, desc="streams", disable=not show) as bar:

            def progress(records: int, bytes_read: int) -> None:
                bar.set_postfix_str(f"{records:,} rows", refresh=False)
                bar.update(min(bytes_read, total) - bar.n)

            run = services.run_execute(
                run_id=run.pk,
                progress=progress,
                max_rejected_fraction=options["max_rejected_fraction"],
            )
        self._summary(run)
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(f"run {run.pk} failed: {run.error}")

    def _summary(self, run: Run) -> None:
        write = self.stdout.write
        rows = run.rows or {}
        counts = (
            f"{rows['read']:,} rows read, {rows['loaded']:,} loaded, {rows['rejected']:,} rejected"
            if rows
            else ""
        )
        if run.status == Run.Status.SUCCEEDED:
            write(f"run {run.pk} succeeded: {counts}")
        else:
            # Say what failed first: the counts are the streaming log's, whichever file failed.
            write(f"run {run.pk} failed: {run.error}")
            if counts:
                write(f"  streaming log: {counts}")
        for error in run.errors[:ERRORS_SHOWN]:
            write(f"  rejected {error['file']} line {error['line']}: {error['error']}")
        if len(run.errors) > ERRORS_SHOWN or (rows and rows["rejected"] > ERRORS_SHOWN):
            write(f"  ... (all listed in run {run.pk}'s errors)")
        if run.status != Run.Status.SUCCEEDED:
            return
        write(f"revenue {run.revenue}  total seconds {run.total_seconds:,}")
        labels = selectors.report_get(run=run).labels
        width = max([len(label.name) for label in labels] + [len("(unattributed)")])
        for label in labels:
            write(f"  {label.name:<{width}}  {label.seconds:>14,} s  {label.amount:>12}")
        write(
            f"  {'(unattributed)':<{width}}  {run.unattributed_seconds:>14,} s  "
            f"{run.unattributed_amount:>12}"
        )
        for warning in run.warnings:
            write(self.style.WARNING(f"warning: {warning}"))
