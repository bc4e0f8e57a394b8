"""The event log's rows in the text format of PostgreSQL's ``COPY ... FROM STDIN``: how a batch
of collected events reaches the table (decision 0068).

Two writers, one format:
- ``copy_text`` writes clean events (``analytics.validation.CleanEvent``), escaping the whole
  batch when a field holds a character the format escapes;
- ``PlainRows`` holds the rows ``analytics.plain_batch`` read a plain batch into (decision
  0078), checked when built to need no escaping.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

INSERT_COLUMNS = (
    "app_id, event, url, referrer, device, ip_address, user_id, user_key, browser, os, "
    "metadata, timestamp, day, received_at"
)
COLUMNS = INSERT_COLUMNS.count(",") + 1
# The fields of a plain row: all but the app and the receipt time (``PlainRows``).
PLAIN_FIELDS = COLUMNS - 2
NULL = "\\N"


def copy_stamp(timestamp: datetime) -> str:
    """The ``timestamp`` and ``day`` fields of an event's row."""
    return f"{timestamp.isoformat()}\t{timestamp.date()}"


def text_plain(text: str, *, tabs: int, newlines: int, nulls: int) -> bool:
    """Whether ``text`` holds exactly the tabs and newlines written as separators and the
    backslashes of its NULL markers: then no field holds a character the format escapes (a
    tab, a newline, a carriage return or a backslash sent in an event)."""
    return (
        text.count("\t") == tabs
        and text.count("\n") == newlines
        and text.count("\\") == nulls
        and "\r" not in text
    )


class PlainRows:
    """The rows of a batch, each its fields from ``event`` to ``day`` (``INSERT_COLUMNS``
    without the app and the receipt time, the same for the whole batch), none needing an
    escape. Build with ``PlainRows.checked``."""

    __slots__ = ("_count", "_joined")

    def __init__(self, joined: str, count: int) -> None:
        self._joined = joined  # the rows joined by newlines
        self._count = count

    @classmethod
    def checked(cls, rows: list[str], *, nulls: int) -> "PlainRows | None":
        """The rows, or None if a field needs an escape (then ``copy_text`` must write them)."""
        joined = "\n".join(rows)
        count = len(rows)
        if not text_plain(joined, tabs=count * (PLAIN_FIELDS - 1), newlines=count - 1, nulls=nulls):
            return None
        return cls(joined, count)

    def __len__(self) -> int:
        return self._count

    def copy_text(self, *, app: str, received: str) -> bytes:
        # The newlines are the rows' separators only (checked): each becomes the end of one
        # row and the app that starts the next.
        rows = self._joined.replace("\n", f"\t{received}\n{app}\t")
        return f"{app}\t{rows}\t{received}\n".encode()


def copy_text(events: "Sequence[Any] | PlainRows", *, app: str, received: str) -> bytes:
    """Events as the rows of ``COPY ... FROM STDIN`` (text format) for ``INSERT_COLUMNS``.

    Clean events are written plainly first; if the text then holds a character the format
    escapes beyond the separators and NULL markers written here, it is written again with every
    field escaped. Sent text is stored exactly as sent either way
    (``tests/analytics/test_copy.py``).
    """
    if isinstance(events, PlainRows):
        return events.copy_text(app=app, received=received)
    text, nulls = _copy_rows(events, app, received, escape=None)
    rows = len(events)
    if not text_plain(text, tabs=rows * (COLUMNS - 1), newlines=rows, nulls=nulls):
        text, _ = _copy_rows(events, app, received, escape=_copy_escape)
    return text.encode()


def event_texts(e: Any) -> tuple[str | None, ...]:
    """A clean event's text columns after ``app_id``, up to ``metadata`` (``INSERT_COLUMNS``)."""
    return (
        *(e.event, e.url, e.referrer, e.device, e.ip_address, e.user_id, e.user_key, e.browser),
        *(e.os, e.metadata_json),
    )


def _copy_rows(
    events: Sequence[Any], app: str, received: str, *, escape: Callable[[str], str] | None
) -> tuple[str, int]:
    """The rows' text, and how many NULL markers (``\\N``) it holds."""
    stamps: dict[datetime, str] = {}  # a batch's events mostly share one timestamp: formatted once
    lines = []
    nulls = 0
    for e in events:
        stamp = stamps.get(e.timestamp)
        if stamp is None:
            stamp = stamps[e.timestamp] = copy_stamp(e.timestamp)
        texts = event_texts(e)
        if escape is not None:
            texts = tuple(None if t is None else escape(t) for t in texts)
        nulls += texts.count(None)
        # Unpacked and formatted at once: half the time of joining the fields one by one.
        event, url, referrer, device, ip, user_id, user_key, browser, os, metadata = texts
        lines.append(
            f"{app}\t{event}\t{url}\t{referrer}\t{device}\t{ip}\t{_text(user_id)}\t{user_key}\t"
            f"{browser}\t{os}\t{_text(metadata)}\t{stamp}\t{received}\n"
        )
    return "".join(lines), nulls


def _copy_escape(value: str) -> str:
    """A field as COPY's text format reads it back unchanged."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _text(value: str | None) -> str:
    return NULL if value is None else value
