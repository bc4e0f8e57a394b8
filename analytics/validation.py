"""The one definition of a valid collected event (the API and the ``send_analytics`` client).

Hand-written rather than a DRF serializer: it runs for every collected event, and the rules are
few and exact (see the spec). Unknown fields are refused, so a misspelt field is reported
instead of silently dropped. Errors use DRF's field-error shape.
"""

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator

from analytics.models import Device
from core.validation import text_error

MAX_EVENT_CHARS = 255
MAX_USER_ID_CHARS = 255
MAX_URL_CHARS = 2048
MAX_METADATA_BYTES = 8 * 1024
MAX_DETAIL_CHARS = 255
FUTURE_TOLERANCE = timedelta(hours=24)
DEVICES = frozenset(Device.values)
FIELDS = frozenset(
    ("event", "url", "referrer", "device", "ipAddress", "timestamp", "userId", "metadata")
)
REQUIRED = "This field is required."
_url_validator = URLValidator(schemes=["http", "https"])


class CleanEvent(NamedTuple):
    """A valid event. A named tuple: built for every collected event, it costs a quarter of a
    frozen dataclass's ``__init__``."""

    event: str
    url: str
    referrer: str
    device: str  # "" when absent
    ip_address: str
    user_id: str | None
    timestamp: datetime
    # The metadata as stored (serialised once, when its size is checked), and the device
    # details taken from it that the rollups keep.
    metadata_json: str | None
    browser: str
    os: str

    @property
    def user_key(self) -> str:
        return f"u:{self.user_id}" if self.user_id is not None else f"i:{self.ip_address}"


def _detail(metadata: dict[str, Any] | None, name: str) -> str:
    value = (metadata or {}).get(name)
    return value[:MAX_DETAIL_CHARS] if isinstance(value, str) else ""


def _url(data: dict[str, Any], name: str, errors: dict[str, list[str]]) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = ["Must be a string."]
    elif len(value) > MAX_URL_CHARS:
        errors[name] = [f"Ensure this field has no more than {MAX_URL_CHARS} characters."]
    elif value and not _url_valid(value):
        errors[name] = ["Enter a valid URL."]
    return value if name not in errors else ""


@lru_cache(maxsize=4096)
def _url_valid(value: str) -> bool:
    """Django's URLValidator, remembered: a site's events repeat a few page URLs, and the
    validator's regular expressions are the largest cost of validating an event."""
    try:
        _url_validator(value)
    except DjangoValidationError:
        return False
    return True


def _timestamp(value: Any, now: datetime, errors: dict[str, list[str]]) -> datetime:
    if value is None:
        return now
    if not isinstance(value, str):
        errors["timestamp"] = ["Must be an ISO 8601 date-time string."]
        return now
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors["timestamp"] = ["Must be an ISO 8601 date-time, e.g. 2024-02-20T12:34:56Z."]
        return now
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if parsed > now + FUTURE_TOLERANCE:
        errors["timestamp"] = ["Must not be more than 24 hours in the future."]
    return parsed


def _ip(value: Any, client_ip: str, errors: dict[str, list[str]]) -> str:
    if value is None:
        return client_ip
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    errors["ipAddress"] = ["Enter a valid IPv4 or IPv6 address."]
    return client_ip


def metadata_dumps(value: dict[str, Any]) -> bytes:
    """Metadata as stored: orjson (several times faster than json, and this runs for every
    event); json for what orjson refuses (integers beyond 64 bits, keys that are not strings,
    which only a Python caller can pass: the API's parser produces neither)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _metadata(value: Any, errors: dict[str, list[str]]) -> str | None:
    """The metadata as stored, or None (absent, or refused: the error is recorded)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        errors["metadata"] = ["Must be a JSON object."]
        return None
    dumped = metadata_dumps(value)
    if len(dumped) > MAX_METADATA_BYTES:
        errors["metadata"] = [f"Must be at most {MAX_METADATA_BYTES} bytes as JSON."]
    elif b"\\u0000" in dumped:  # PostgreSQL's jsonb cannot store NUL
        errors["metadata"] = ["Null characters are not allowed."]
    else:
        return dumped.decode()
    return None


_NUL_CHECKED = frozenset(("event", "url", "referrer", "userId", "timestamp", "ipAddress", "device"))


def _shape_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """Unknown fields, NUL characters, and the event, device and userId fields."""
    errors: dict[str, list[str]] = {}
    if not FIELDS.issuperset(data):
        unknown = sorted(str(key) for key in data if key not in FIELDS)
        errors["non_field_errors"] = [f"Unknown fields: {', '.join(unknown)}."]
    for name, value in data.items():  # one walk over the few fields sent
        if isinstance(value, str) and "\x00" in value and name in _NUL_CHECKED:
            errors[name] = ["Null characters are not allowed."]
    event = data.get("event")
    if event is None:
        errors["event"] = [REQUIRED if "event" not in data else "This field may not be null."]
    elif error := text_error(event, max_chars=MAX_EVENT_CHARS):
        errors["event"] = [error]
    device = data.get("device")
    if device is not None and (not isinstance(device, str) or device not in DEVICES):
        errors["device"] = ["Must be one of mobile, desktop, tablet, other."]
    user_id = data.get("userId")
    if user_id is not None and (error := text_error(user_id, max_chars=MAX_USER_ID_CHARS)):
        errors["userId"] = [error]
    return errors


def event_validate(
    data: Any, *, client_ip: str, now: datetime | None = None
) -> tuple[CleanEvent | None, dict[str, list[str]]]:
    """Return ``(event, {})`` for a valid event, ``(None, errors)`` otherwise."""
    if not isinstance(data, dict):
        return None, {"non_field_errors": ["Expected a JSON object with at least an event."]}
    now = now or datetime.now(tz=UTC)
    event = _valid_at_once(data, client_ip, now)
    if event is not None:
        return event, {}
    return _validate(data, client_ip=client_ip, now=now)


def _plain_text(value: Any, max_chars: int) -> bool:
    """A non-blank ``str`` within ``max_chars``, without NUL: what ``text_error`` and the NUL
    check both let through."""
    return type(value) is str and 0 < len(value) <= max_chars and "\x00" not in value


def _valid_at_once(data: dict[str, Any], client_ip: str, now: datetime) -> CleanEvent | None:
    """The event, if ``data`` is valid in the ways almost every event is; None to let
    ``_validate`` decide (and word the errors). It accepts nothing ``_validate`` refuses and
    builds the same event: a batch of 1,000 events is validated in a third of the time."""
    get = data.get
    event: Any = get("event")
    user_id, device = get("userId"), get("device")
    if (
        not FIELDS.issuperset(data)
        or not _plain_text(event, MAX_EVENT_CHARS)
        or (user_id is not None and not _plain_text(user_id, MAX_USER_ID_CHARS))
        or (device is not None and (type(device) is not str or device not in DEVICES))
    ):
        return None
    url, referrer = get("url"), get("referrer")
    if (url is not None and not url_plain(url)) or (
        referrer is not None and not url_plain(referrer)
    ):
        return None
    details = details_at_once(
        get("timestamp"), get("ipAddress"), get("metadata"), client_ip=client_ip, now=now
    )
    if details is None:
        return None
    timestamp, ip_address, metadata_json, browser, os = details
    return CleanEvent(
        event, url or "", referrer or "", device or "", ip_address, user_id, timestamp,
        metadata_json, browser, os,
    )  # fmt: skip


Details = tuple[datetime, str, str | None, str, str]


def details_at_once(
    stamp: Any, address: Any, metadata: Any, *, client_ip: str, now: datetime
) -> Details | None:
    """An event's timestamp, IP address, stored metadata, browser and os, from the optional
    fields as sent (``now`` and ``client_ip`` when absent); None if one of them is invalid
    (``_validate`` words why). Shared by both quick paths (here and ``analytics.plain_batch``)."""
    if stamp is None and address is None and metadata is None:
        return now, client_ip, None, "", ""
    errors: dict[str, list[str]] = {}
    if (type(stamp) is str and "\x00" in stamp) or (type(address) is str and "\x00" in address):
        return None
    timestamp = _timestamp(stamp, now, errors)
    ip_address = _ip(address, client_ip, errors)
    metadata_json = _metadata(metadata, errors)
    if errors:
        return None
    browser, os = _detail(metadata, "browser"), _detail(metadata, "os")
    return timestamp, ip_address, metadata_json, browser, os


def url_plain(value: Any) -> bool:
    """A URL field that needs no error: a string within the limit, without NUL, empty or one
    Django's ``URLValidator`` accepts."""
    return (
        type(value) is str
        and len(value) <= MAX_URL_CHARS
        and "\x00" not in value
        and (not value or _url_valid(value))
    )


def _validate(
    data: dict[str, Any], *, client_ip: str, now: datetime
) -> tuple[CleanEvent | None, dict[str, list[str]]]:
    """Every check, every error worded."""
    errors = _shape_errors(data)
    url = _url(data, "url", errors)
    referrer = _url(data, "referrer", errors)
    timestamp = _timestamp(data.get("timestamp"), now, errors)
    ip_address = _ip(data.get("ipAddress"), client_ip, errors)
    metadata = data.get("metadata")
    metadata_json = _metadata(metadata, errors)
    if errors:
        return None, errors
    return CleanEvent(
        event=data["event"],
        url=url,
        referrer=referrer,
        device=data.get("device") or "",
        ip_address=ip_address,
        user_id=data.get("userId"),
        timestamp=timestamp,
        metadata_json=metadata_json,
        browser=_detail(metadata, "browser"),
        os=_detail(metadata, "os"),
    ), {}
