"""Send a JSON-lines file of revenue events to a running server (the ingestion client)."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingestion.client import Sender, Summary, events_send, lines_read


class Command(BaseCommand):
    help = (
        "Validate and send the events of a JSON-lines file, with bounded concurrency, retries, "
        "and a stable Idempotency-Key per line (sending a file twice counts nothing twice)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="JSON-lines file, one event per line")
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="the server's base URL, or the full /liveEvent or /api/ingestion/events URL "
            "(default: %(default)s)",
        )
        parser.add_argument("--secret", required=True, help="one of INGESTION_SECRETS")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=64,
            help="requests in flight at most (default: %(default)s)",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=None,
            metavar="N",
            help="use the batch endpoint, N per request",
        )
        parser.add_argument(
            "--source-id",
            default=None,
            help="identity of the file in the idempotency keys (default: its absolute path)",
        )
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="seconds per request (default: %(default)s)"
        )
        parser.add_argument(
            "--retries",
            type=int,
            default=5,
            help="retries after a network error, 429 or 5xx (default: %(default)s)",
        )
        parser.add_argument(
            "--backoff",
            type=float,
            default=0.5,
            help="first retry delay in seconds, doubled each time (default: %(default)s)",
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        if options["batch"] is not None and options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        source_id = options["source_id"] or str(path.resolve())
        summary = Summary()
        try:
            lines = lines_read(path, source_id=source_id, summary=summary)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        sender = Sender(
            url=options["url"],
            secret=options["secret"],
            timeout_seconds=options["timeout"],
            retries=options["retries"],
            backoff_seconds=options["backoff"],
        )
        with tqdm(total=len(lines), unit="event", disable=not sys.stderr.isatty()) as bar:
            events_send(
                lines=lines,
                sender=sender,
                concurrency=options["concurrency"],
                batch_size=options["batch"],
                summary=summary,
                on_progress=bar.update,
            )
        for message in sorted(summary.messages, key=_line_order):
            self.stderr.write(message)
        self.stdout.write(
            f"sent: {summary.sent}, duplicates: {summary.duplicates}, "
            f"rejected: {summary.rejected}, failed: {summary.failed}"
        )
        if summary.failed:
            raise CommandError(f"{summary.failed} events were not delivered")


def _line_order(message: str) -> int:
    digits = message.split(":", 1)[0].split()[-1].split("-")[0]
    return int(digits) if digits.isdigit() else 0
