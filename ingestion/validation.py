"""The one definition of a valid event, used by the API and by the ``send_events`` client.

Hand-written rather than a DRF serializer: it is on the hot path of every request, and the
rules are few and exact (see the spec): ``value`` a JSON integer (not a bool) in 0..2^53-1,
``name`` one of two words, ``userId`` 1..255 characters, ``eventId`` optional string of at most
255 characters. Unknown fields are ignored. Errors use DRF's field-error shape.
"""

from dataclasses import dataclass
from typing import Any

from core.validation import text_error
from ingestion.models import EventName

MAX_VALUE = 2**53 - 1
MAX_USER_ID_CHARS = 255
MAX_KEY_CHARS = 255
NAMES = {EventName.ADD_REVENUE.value: 1, EventName.SUBTRACT_REVENUE.value: -1}

REQUIRED = "This field is required."


@dataclass(frozen=True, slots=True)
class CleanEvent:
    user_id: str
    name: str
    value: int
    event_id: str | None

    @property
    def amount(self) -> int:
        return NAMES[self.name] * self.value


def _value_error(value: Any) -> str | None:
    if type(value) is not int:  # bool is an int subclass; 1.5, 10.0 and "10" are refused
        return "Must be a JSON integer."
    if not 0 <= value <= MAX_VALUE:
        return f"Must be between 0 and {MAX_VALUE}."
    return None


def _name_error(value: Any) -> str | None:
    if not isinstance(value, str) or value not in NAMES:
        return 'Must be "add_revenue" or "subtract_revenue".'
    return None


_REQUIRED_CHECKS = (
    ("userId", lambda value: text_error(value, max_chars=MAX_USER_ID_CHARS)),
    ("name", _name_error),
    ("value", _value_error),
)


def event_validate(data: Any) -> tuple[CleanEvent | None, dict[str, list[str]]]:
    """Return ``(event, {})`` for a valid event, ``(None, errors)`` otherwise."""
    if not isinstance(data, dict):
        return None, {"non_field_errors": ["Expected a JSON object with userId, name and value."]}
    errors: dict[str, list[str]] = {}
    for field, check in _REQUIRED_CHECKS:
        value = data.get(field)
        if value is None:
            errors[field] = [REQUIRED if field not in data else "This field may not be null."]
        elif (error := check(value)) is not None:
            errors[field] = [error]
    event_id = data.get("eventId")
    if event_id is not None and (error := text_error(event_id, max_chars=MAX_KEY_CHARS)):
        errors["eventId"] = [error]
    if errors:
        return None, errors
    return CleanEvent(
        user_id=data["userId"], name=data["name"], value=data["value"], event_id=event_id
    ), {}


def idempotency_key_validate(raw: str | None) -> tuple[str | None, dict[str, list[str]]]:
    """The ``Idempotency-Key`` header: absent, or 1..255 characters."""
    if raw is None:
        return None, {}
    if not raw or len(raw) > MAX_KEY_CHARS:
        return None, {"Idempotency-Key": [f"Must be between 1 and {MAX_KEY_CHARS} characters."]}
    if "\x00" in raw:  # PostgreSQL text cannot hold NUL; the JSON parser refuses it in bodies
        return None, {"Idempotency-Key": ["Null characters are not allowed."]}
    return raw, {}
