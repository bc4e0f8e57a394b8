"""The ``send_analytics`` client: send a JSON-lines file of events to a server's collect.

It reuses ingestion's ``Sender`` (one session per thread, retries with jittered backoff on
network errors, 429 and 5xx) with the ``x-api-key`` header, and checks each line with the
server's own validation first, so a line the client accepts is a line the server accepts.

Collect has no idempotency key (the spec gives it none): a request that timed out after the
server committed and is then retried stores its events twice. Use ``--retries 0`` where an
exact count matters more than delivery.
"""

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from analytics.validation import event_validate
from ingestion.client import Sender

COLLECT_PATH = "/api/analytics/collect"


@dataclass(frozen=True)
class Line:
    number: int
    body: dict


@dataclass
class Summary:
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    messages: list[str] = field(default_factory=list)


def _errors_text(errors: dict) -> str:
    return "; ".join(f"{name}: {' '.join(map(str, messages))}" for name, messages in errors.items())


def lines_read(path: Path, *, summary: Summary) -> list[Line]:
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
        # The server fills a missing ipAddress with the client address; any address checks.
        _, errors = event_validate(data, client_ip="127.0.0.1")
        if errors:
            summary.rejected += 1
            summary.messages.append(f"line {number}: {_errors_text(errors)}")
            continue
        lines.append(Line(number=number, body=data))
    return lines


def api_key_sender(
    *, url: str, api_key: str, timeout_seconds: float, retries: int, backoff_seconds: float
) -> Sender:
    return Sender(
        url=url,
        auth_headers={"x-api-key": api_key},
        timeout_seconds=timeout_seconds,
        retries=retries,
        backoff_seconds=backoff_seconds,
    )


def _send_chunk(sender: Sender, lines: list[Line]) -> list[tuple[str, str]]:
    """Outcomes of one request: ("sent" | "rejected" | "failed", message) per line."""
    single = len(lines) == 1
    body = lines[0].body if single else [line.body for line in lines]
    result = sender.post(
        COLLECT_PATH, headers={"Content-Type": "application/json"}, data=json.dumps(body).encode()
    )
    first, last = lines[0].number, lines[-1].number
    where = f"line {first}" if single else f"lines {first}-{last}"
    if isinstance(result, str):
        return [("failed", f"{where}: {result}")] + [("failed", "")] * (len(lines) - 1)
    if single and result.status_code == 400:
        return [("rejected", f"{where}: {_errors_text(_json(result))}")]
    if result.status_code != 202:
        reason = f"HTTP {result.status_code} {result.text[:200]}"
        return [("failed", f"{where}: {reason}")] + [("failed", "")] * (len(lines) - 1)
    data = _json(result)
    outcomes = [
        ("rejected", f"line {lines[item['index']].number}: {_errors_text(item['errors'])}")
        for item in data.get("rejected", [])
    ]
    return outcomes + [("sent", "")] * int(data.get("accepted", 0))


def _json(response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _chunks(lines: list[Line], size: int) -> Iterator[list[Line]]:
    for start in range(0, len(lines), size):
        yield lines[start : start + size]


def events_send(
    *,
    lines: list[Line],
    sender: Sender,
    concurrency: int,
    batch_size: int,
    summary: Summary,
    on_progress: Callable[[int], object],
) -> Summary:
    """Send every line, ``batch_size`` per request, at most ``concurrency`` requests at once."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = {
            pool.submit(_send_chunk, sender, chunk): len(chunk)
            for chunk in _chunks(lines, batch_size)
        }
        for future in as_completed(futures):
            for outcome, message in future.result():
                setattr(summary, outcome, getattr(summary, outcome) + 1)
                if message:
                    summary.messages.append(message)
            on_progress(futures[future])
    return summary
