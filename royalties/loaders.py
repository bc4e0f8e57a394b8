"""Readers of the three inputs of a consolidation, streamed and tolerant where the spec says so.

- Streaming log and subscribers: CSV with ``;``, ``,`` or tab as delimiter (detected from the
  header), CRLF or LF, optional BOM, no final newline, header names in any case with ``track id``
  or ``track_id``. Rows are read one at a time; a bad row is reported with its physical line
  number (header = line 1) and skipped; the caller decides whether too many were bad.
- Track metadata: a JSON array of ``{track_id, track_name, label}``, from a file or fetched from
  an http(s) URL (timeout, retries with backoff), or the as-published shape whose keys are the
  first track's values (that track is lost; a warning names it).

File-level problems (missing column, not UTF-8, not JSON, URL down) raise ``InputError``.
"""

import csv
import datetime
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO, NamedTuple

import requests
from django.conf import settings

from core.errors import ApplicationError

logger = logging.getLogger(__name__)

MAX_ID_LENGTH = 100
MAX_REGION_LENGTH = 16
MAX_SECONDS_DIGITS = 12
# Rows between two progress callbacks while reading the streaming log.
PROGRESS_EVERY_ROWS = 20_000


class InputError(ApplicationError):
    """An input that cannot be read at all; the run fails with this message."""

    code = "invalid_input"


@dataclass
class Rejections:
    """Rejected rows of one input: the count, and the first ``limit`` of them with line numbers."""

    source: str
    limit: int
    count: int = 0
    listed: list[dict] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.listed) < self.limit:
            self.listed.append({"file": self.source, "line": line, "error": message})


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s_]+", "_", name.strip().lower())


Records = Iterator[tuple[int, list[str]]]


def _csv_open(
    binary: BinaryIO, *, rejections: Rejections, required: tuple[str, ...]
) -> tuple[dict[str, int], int, Records]:
    """Return (column index by name, number of columns, the records after the header)."""
    source = rejections.source
    # newline="" keeps line ends as they are (CRLF, LF or CR all end a line; the csv module
    # needs that); utf-8-sig drops a BOM if there is one.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        header_line = text.readline()
    except UnicodeDecodeError:
        raise InputError(f"{source}: the file is not UTF-8 text.") from None
    if not header_line.strip():
        raise InputError(f"{source}: the file is empty (no header line).")
    delimiter = max(";,\t", key=header_line.count)
    if header_line.count(delimiter) == 0:
        raise InputError(
            f"{source}: cannot find the delimiter in the header line "
            f"{header_line.strip()!r} (expected ';', ',' or tab)."
        )
    header = [
        _normalise_header(name) for name in next(csv.reader([header_line], delimiter=delimiter))
    ]
    missing = [name for name in required if name not in header]
    if missing:
        raise InputError(
            f"{source}: missing column(s) {', '.join(missing)} in the header "
            f"(found: {', '.join(header)})."
        )
    columns = {name: header.index(name) for name in required}
    return columns, len(header), _records(text, delimiter=delimiter, rejections=rejections)


def _records(text: io.TextIOWrapper, *, delimiter: str, rejections: Rejections) -> Records:
    """(first physical line, fields) of every non-blank record after the header.

    A line without a quote character is split as it is (what the csv module would do, only
    faster); a line with one goes to the csv module, which reads as many further physical
    lines as a quoted field spans. Line numbers count physical lines, the header being 1.
    """
    lines = iter(text)
    number = 1
    while True:
        try:
            for raw in lines:
                number += 1
                if '"' not in raw:
                    stripped = raw.rstrip("\r\n")
                    if stripped:
                        yield number, stripped.split(delimiter)
                    continue
                start = number
                spanned = [0]

                def more(first: str = raw, spanned: list[int] = spanned) -> Iterator[str]:
                    yield first
                    for line in lines:
                        spanned[0] += 1
                        yield line

                try:
                    record = next(csv.reader(more(), delimiter=delimiter, strict=True))
                except StopIteration:
                    record = []
                except csv.Error as exc:
                    rejections.add(start, f"unreadable CSV: {exc}")
                    record = []
                number += spanned[0]
                if record:
                    yield start, record
            # Leave the binary file open for its owner (collecting the wrapper would close it).
            text.detach()
            return
        except UnicodeDecodeError:
            raise InputError(
                f"{rejections.source}: the file is not UTF-8 text (after line {number})."
            ) from None


def _day_first_date(raw: str) -> str | None:
    """``dd/mm/yyyy`` (day first) → ISO ``yyyy-mm-dd``, or None when it is not a date."""
    parts = raw.strip().split("/")
    if len(parts) != 3 or len(parts[2]) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    try:
        return datetime.date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat()
    except ValueError:
        return None


# (line, iso date, user_id, region, track_id, seconds as validated ASCII digits)
StreamRow = tuple[int, str, str, str, str, str]


def streams_read(
    binary: BinaryIO,
    *,
    rejections: Rejections,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[StreamRow]:
    """Yield ``(line, iso_date, user_id, region, track_id, seconds)`` for every valid row.

    ``progress(records_read, bytes_read)`` is called every few thousand records.
    """
    columns, width, records = _csv_open(
        binary, rejections=rejections, required=("date", "user_id", "region", "track_id", "seconds")
    )
    i_date, i_user, i_region, i_track, i_seconds = (
        columns["date"],
        columns["user_id"],
        columns["region"],
        columns["track_id"],
        columns["seconds"],
    )
    dates: dict[str, str] = {}
    count = 0
    for line, record in records:
        count += 1
        if progress is not None and count % PROGRESS_EVERY_ROWS == 0:
            progress(count, binary.tell())
        if len(record) != width:
            rejections.add(line, f"expected {width} fields, found {len(record)}")
            continue
        raw_date = record[i_date]
        date = dates.get(raw_date)
        if date is None:
            date = _day_first_date(raw_date)
            if date is None:
                if raw_date.strip():
                    rejections.add(line, f"bad date {raw_date!r} (expected dd/mm/yyyy)")
                else:
                    rejections.add(line, "missing date")
                continue
            dates[raw_date] = date
        raw_seconds = record[i_seconds].strip()
        if not (raw_seconds.isdigit() and raw_seconds.isascii()):
            if not raw_seconds:
                rejections.add(line, "missing seconds")
            elif raw_seconds.startswith("-"):
                rejections.add(line, f"negative seconds {raw_seconds!r}")
            else:
                rejections.add(line, f"seconds {raw_seconds!r} is not a whole number")
            continue
        if len(raw_seconds) > MAX_SECONDS_DIGITS:
            rejections.add(line, f"seconds {raw_seconds!r} is out of range")
            continue
        user_id = record[i_user].strip()
        track_id = record[i_track].strip()
        region = record[i_region].strip().upper()
        if not user_id or not track_id or not region:
            name = "user_id" if not user_id else "track_id" if not track_id else "region"
            rejections.add(line, f"missing {name}")
            continue
        if (
            len(user_id) > MAX_ID_LENGTH
            or len(track_id) > MAX_ID_LENGTH
            or len(region) > MAX_REGION_LENGTH
        ):
            rejections.add(line, "user_id, track_id or region is too long")
            continue
        yield line, date, user_id, region, track_id, raw_seconds
    if progress is not None:
        progress(count, binary.tell())


class SubscriberRow(NamedTuple):
    line: int
    product_type: str
    fee: Decimal
    origin: str
    contribution: Decimal


def subscribers_read(
    binary: BinaryIO, *, shares: dict[str, Decimal], rejections: Rejections
) -> dict[str, SubscriberRow]:
    """Every valid subscriber by user_id (memory grows with subscribers, not with streams)."""
    columns, width, records = _csv_open(
        binary, rejections=rejections, required=("user_id", "product_type", "fee", "origin")
    )
    i_user, i_product, i_fee, i_origin = (
        columns["user_id"],
        columns["product_type"],
        columns["fee"],
        columns["origin"],
    )
    subscribers: dict[str, SubscriberRow] = {}
    fees: dict[str, Decimal | None] = {}  # fee texts repeat: parse each once
    for line, record in records:
        if len(record) != width:
            rejections.add(line, f"expected {width} fields, found {len(record)}")
            continue
        user_id = record[i_user].strip()
        product_type = record[i_product].strip()
        raw_fee = record[i_fee].strip()
        origin = record[i_origin].strip().lower()
        if not (user_id and product_type and raw_fee and origin):
            names = ("user_id", "product_type", "fee", "origin")
            values = (user_id, product_type, raw_fee, origin)
            missing = [name for name, value in zip(names, values, strict=True) if not value]
            rejections.add(line, f"missing {', '.join(missing)}")
            continue
        if len(user_id) > MAX_ID_LENGTH or len(product_type) > 64:
            rejections.add(line, "user_id or product_type is too long")
            continue
        if raw_fee in fees:
            fee = fees[raw_fee]
        else:
            fee = _fee_parse(raw_fee)
            if len(fees) < 10_000:
                fees[raw_fee] = fee
        if fee is None:
            rejections.add(line, f"bad fee {raw_fee!r} (expected an amount like 7,99)")
            continue
        share = shares.get(origin)
        if share is None:
            known = ", ".join(sorted(shares))
            rejections.add(line, f"unknown origin {origin!r} (known: {known})")
            continue
        known_row = subscribers.get(user_id)
        if known_row is not None:
            rejections.add(line, f"user {user_id} is already listed on line {known_row.line}")
            continue
        subscribers[user_id] = SubscriberRow(line, product_type, fee, origin, fee * share)
    return subscribers


def _fee_parse(raw: str) -> Decimal | None:
    """A non-negative amount with at most 4 decimals, comma or point; None if it is not one."""
    try:
        fee = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None
    if not fee.is_finite() or fee < 0 or fee.as_tuple().exponent < -4 or fee >= Decimal("1e8"):
        return None
    return fee


@dataclass(frozen=True)
class Metadata:
    tracks: dict[str, tuple[str, str]]  # track_id -> (name, label)
    warnings: list[str]


def _metadata_parse(data: object, *, source: str) -> Metadata:
    if not isinstance(data, list):
        raise InputError(f"{source}: expected a JSON array of tracks, got {type(data).__name__}.")
    if not data:
        raise InputError(f"{source}: the metadata lists no track.")
    first = data[0]
    if not isinstance(first, dict):
        raise InputError(f"{source}: item 0 is not an object.")
    keys = list(first)
    warnings: list[str] = []
    if {"track_id", "track_name", "label"} <= set(keys):
        name_key, label_key = "track_name", "label"
    elif len(keys) == 3 and keys[0] == "track_id":
        # The as-published shape: a CSV converted with its first data row as the header, so
        # the first track's name and label became the keys and its id is nowhere.
        name_key, label_key = keys[1], keys[2]
        warnings.append(
            f"track metadata is in the as-published shape: the first track "
            f"('{name_key}', label '{label_key}') was lost in the conversion; its id is "
            f"unknown, so its streams are unattributed."
        )
    else:
        raise InputError(
            f"{source}: unrecognised track fields {keys} (expected track_id, track_name, label)."
        )
    tracks: dict[str, tuple[str, str]] = {}
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(f"{source}: item {index} is not an object.")
        values = [item.get(key) for key in ("track_id", name_key, label_key)]
        if not all(isinstance(v, str | int) and str(v).strip() for v in values):
            raise InputError(
                f"{source}: item {index} needs non-empty track_id, {name_key} and {label_key}."
            )
        track_id, name, label = (str(v).strip() for v in values)
        if len(track_id) > MAX_ID_LENGTH or len(name) > 500 or len(label) > 500:
            raise InputError(f"{source}: item {index} has a field that is too long.")
        known = tracks.get(track_id)
        if known is not None and known != (name, label):
            raise InputError(
                f"{source}: track {track_id} is listed twice with different name or label "
                f"(item {index})."
            )
        tracks[track_id] = (name, label)
    return Metadata(tracks=tracks, warnings=warnings)


def metadata_read(path: str | Path, *, source: str = "tracks") -> Metadata:
    # The metadata grows with the number of tracks, not of streams: reading it whole is allowed.
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except UnicodeDecodeError:
        raise InputError(f"{source}: the file is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not valid JSON ({exc}).") from None
    return _metadata_parse(data, source=source)


class _Retryable(Exception):
    pass


def metadata_fetch(
    url: str,
    *,
    dest: Path,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Download the metadata at ``url`` into ``dest``, retrying network errors, 429 and 5xx."""
    attempts = max(1, settings.ROYALTIES_METADATA_RETRIES + 1)
    timeout = settings.ROYALTIES_METADATA_TIMEOUT_SECONDS
    backoff = float(settings.ROYALTIES_METADATA_BACKOFF_SECONDS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    last_problem = ""
    for attempt in range(1, attempts + 1):
        try:
            with requests.get(url, timeout=timeout, stream=True) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise InputError(
                        f"tracks: the metadata URL answered HTTP {response.status_code}."
                    )
                with open(dest, "wb") as out:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        out.write(chunk)
                return
        except (_Retryable, requests.ConnectionError, requests.Timeout) as exc:
            last_problem = str(exc) if isinstance(exc, _Retryable) else type(exc).__name__
        except requests.RequestException as exc:
            raise InputError(f"tracks: cannot fetch the metadata URL: {exc}") from None
        logger.warning("metadata fetch attempt %s/%s failed: %s", attempt, attempts, last_problem)
        if attempt < attempts:
            sleep(min(backoff * 2 ** (attempt - 1), 30.0))
    raise InputError(
        f"tracks: the metadata URL is unavailable after {attempts} attempts (last: {last_problem})."
    )
