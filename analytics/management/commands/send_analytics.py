"""Send a JSON-lines file of analytics events to a running server's collect endpoint."""

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics.client import Summary, api_key_sender, events_send, lines_read


class Command(BaseCommand):
    help = (
        "Validate and send the events of a JSON-lines file (one event object per line) to "
        "/api/analytics/collect with bounded concurrency and retries."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="a JSON-lines file, one event per line")
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="base URL of the platform, or the full collect URL",
        )
        parser.add_argument("--api-key", required=True, help="the app's key (x-api-key)")
        parser.add_argument(
            "--concurrency", type=int, default=16, help="requests in flight at once"
        )
        parser.add_argument(
            "--batch", type=int, default=100, metavar="N", help="events per request (1 = single)"
        )
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
        parser.add_argument(
            "--retries", type=int, default=3, help="retries per request on 5xx or network errors"
        )
        parser.add_argument("--backoff", type=float, default=0.5, help="first retry delay (s)")

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        if not 1 <= options["batch"] <= settings.ANALYTICS_MAX_BATCH:
            raise CommandError(f"--batch must be between 1 and {settings.ANALYTICS_MAX_BATCH}")
        summary = Summary()
        try:
            lines = lines_read(path, summary=summary)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        sender = api_key_sender(
            url=options["url"],
            api_key=options["api_key"],
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
        for message in summary.messages:
            self.stderr.write(message)
        self.stdout.write(
            f"sent: {summary.sent}, rejected: {summary.rejected}, failed: {summary.failed}"
        )
        if summary.failed:
            raise CommandError(f"{summary.failed} events were not delivered")
