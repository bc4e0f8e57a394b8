"""The ``send_events`` client: read a JSON-lines file and send each event to a server.

Validation is the server's own (``ingestion.validation``), so a line the client accepts is a
line the server accepts. Each line carries a stable idempotency key (see
docs/decisions/0023-client-idempotency-keys.md): sending the same file twice, or retrying after
a timeout, never counts an event twice.
"""

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ingestion.validation import event_validate

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
MAX_BACKOFF_SECONDS = 8.0


@dataclass(frozen=True)
class Line:
    number: int
    body: dict
    key: str


@dataclass
class Summary:
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    messages: list[str] = field(default_factory=list)


def line_key(*, source_id: str, number: int, text: str) -> str:
    """sha256 of the file identity, the line number and the line's content (stripped)."""
    material = f"{source_id}\n{number}\n{text.strip()}".encode()
    return hashlib.sha256(material).hexdigest()


def lines_read(path: Path, *, source_id: str, summary: Summary) -> list[Line]:
    """Valid lines of the file; invalid ones are counted as rejected with their line number."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text: {exc}") from None
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            summary.rejected += 1
            summary.messages.append(f"line {number}: not valid JSON ({exc})")
            continue
        _, errors = event_validate(data)
        if errors:
            summary.rejected += 1
            summary.messages.append(f"line {number}: {_errors_text(errors)}")
            continue
        lines.append(
            Line(
                number=number, body=data, key=line_key(source_id=source_id, number=number, text=raw)
            )
        )
    return lines


def _errors_text(errors: dict) -> str:
    return "; ".join(f"{name}: {' '.join(map(str, messages))}" for name, messages in errors.items())


ENDPOINT_PATHS = ("/liveEvent", "/api/ingestion/events", "/api/analytics/collect")


def base_url(url: str) -> str:
    """The server's base URL from what a user typed: the base itself or an endpoint."""
    url = url.strip().rstrip("/")
    for path in ENDPOINT_PATHS:
        if url.endswith(path):
            return url[: -len(path)]
    return url


def _body_excerpt(response: requests.Response) -> str:
    """A short account of an unexpected answer: its JSON, or its content type (not HTML)."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.text[:200]
    return f"({response.headers.get('Content-Type') or 'no content type'}, not the API's JSON)"


class Sender:
    """Posts with retries; one requests.Session per thread (sessions are not thread-safe)."""

    def __init__(
        self,
        *,
        url: str,
        secret: str | None = None,
        timeout_seconds: float,
        retries: int,
        backoff_seconds: float,
        auth_headers: dict[str, str] | None = None,
    ) -> None:
        self.url = base_url(url)
        # The ingestion secret by default; other clients pass their own credential headers.
        self.auth_headers = {"Authorization": secret} if auth_headers is None else auth_headers
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, path: str, *, headers: dict, data: bytes) -> requests.Response | str:
        """The final response, or a message when every attempt failed to get one."""
        headers = {**self.auth_headers, **headers}
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2 ** (attempt - 1))
                time.sleep(delay * (0.5 + random.random() / 2))
            try:
                response = self._session().post(
                    self.url + path, data=data, headers=headers, timeout=self.timeout_seconds
                )
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRYABLE_STATUSES:
                problem = f"HTTP {response.status_code}"
                continue
            return response
        return f"gave up after {self.retries + 1} attempts ({problem})"


def _outcome_single(sender: Sender, line: Line) -> tuple[str, str]:
    result = sender.post(
        "/liveEvent",
        headers={"Content-Type": "application/json", "Idempotency-Key": line.key},
        data=json.dumps(line.body).encode(),
    )
    if isinstance(result, str):
        return "failed", f"line {line.number}: {result}"
    if result.status_code == 201:
        return "sent", ""
    if result.status_code == 200 and _json(result).get("duplicate"):
        return "duplicate", ""
    if result.status_code == 400:
        return "rejected", f"line {line.number}: {_errors_text(_json(result))}"
    return "failed", f"line {line.number}: HTTP {result.status_code} {_body_excerpt(result)}"


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _outcomes_batch(sender: Sender, lines: list[Line]) -> list[tuple[str, str]]:
    # In a batch each item carries its key as eventId (a line's own eventId is kept).
    items = [
        {**line.body} if "eventId" in line.body else {**line.body, "eventId": line.key}
        for line in lines
    ]
    result = sender.post(
        "/api/ingestion/events",
        headers={"Content-Type": "application/json"},
        data=json.dumps(items).encode(),
    )
    if isinstance(result, str) or result.status_code != 200:
        reason = result if isinstance(result, str) else f"HTTP {result.status_code}"
        first, last = lines[0].number, lines[-1].number
        return [("failed", f"lines {first}-{last}: {reason}")] + [("failed", "")] * (len(lines) - 1)
    data = _json(result)
    outcomes: list[tuple[str, str]] = []
    for item in data.get("rejected", []):
        line = lines[item["index"]]
        outcomes.append(("rejected", f"line {line.number}: {_errors_text(item['errors'])}"))
    outcomes += [("sent", "")] * int(data.get("accepted", 0))
    outcomes += [("duplicate", "")] * int(data.get("duplicates", 0))
    return outcomes


def _chunks(lines: list[Line], size: int) -> Iterator[list[Line]]:
    for start in range(0, len(lines), size):
        yield lines[start : start + size]


def events_send(
    *,
    lines: list[Line],
    sender: Sender,
    concurrency: int,
    batch_size: int | None,
    summary: Summary,
    on_progress: Callable[[int], object],
) -> Summary:
    """Send every line with at most ``concurrency`` requests in flight; fill ``summary``."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        if batch_size:
            futures = {
                pool.submit(_outcomes_batch, sender, chunk): len(chunk)
                for chunk in _chunks(lines, batch_size)
            }
        else:
            futures = {
                pool.submit(lambda line: [_outcome_single(sender, line)], line): 1 for line in lines
            }
        for future in as_completed(futures):
            for outcome, message in future.result():
                if outcome == "sent":
                    summary.sent += 1
                elif outcome == "duplicate":
                    summary.duplicates += 1
                elif outcome == "rejected":
                    summary.rejected += 1
                else:
                    summary.failed += 1
                if message:
                    summary.messages.append(message)
            on_progress(futures[future])
    return summary
