"""The one definition of a valid event, used by the API and by the ``send_events`` client.

Hand-written rather than a DRF serializer: it is on the hot path of every request, and the
rules are few and exact (see the spec): ``value`` a JSON integer (not a bool) in 0..2^53-1,
``name`` one of two words, ``userId`` 1..255 characters, ``eventId`` optional string of at most
255 characters. Unknown fields are ignored. Errors use DRF's field-error shape.
"""

from dataclasses import dataclass
from typing import Any

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


def event_validate(data: Any) -> tuple[CleanEvent | None, dict[str, list[str]]]:
    """Return ``(event, {})`` for a valid event, ``(None, errors)`` otherwise."""
    if not isinstance(data, dict):
        return None, {"non_field_errors": ["Expected a JSON object with userId, name and value."]}
    errors: dict[str, list[str]] = {}

    user_id = data.get("userId")
    if user_id is None:
        errors["userId"] = [REQUIRED if "userId" not in data else "This field may not be null."]
    elif not isinstance(user_id, str):
        errors["userId"] = ["Must be a string."]
    elif not user_id:
        errors["userId"] = ["This field may not be blank."]
    elif len(user_id) > MAX_USER_ID_CHARS:
        errors["userId"] = [f"Ensure this field has no more than {MAX_USER_ID_CHARS} characters."]

    name = data.get("name")
    if name is None:
        errors["name"] = [REQUIRED if "name" not in data else "This field may not be null."]
    elif not isinstance(name, str) or name not in NAMES:
        errors["name"] = ['Must be "add_revenue" or "subtract_revenue".']

    value = data.get("value")
    if value is None:
        errors["value"] = [REQUIRED if "value" not in data else "This field may not be null."]
    elif type(value) is not int:  # bool is an int subclass; 1.5, 10.0 and "10" are refused
        errors["value"] = ["Must be a JSON integer."]
    elif not 0 <= value <= MAX_VALUE:
        errors["value"] = [f"Must be between 0 and {MAX_VALUE}."]

    event_id = data.get("eventId")
    if event_id is not None:
        if not isinstance(event_id, str):
            errors["eventId"] = ["Must be a string."]
        elif not event_id:
            errors["eventId"] = ["This field may not be blank."]
        elif len(event_id) > MAX_KEY_CHARS:
            errors["eventId"] = [f"Ensure this field has no more than {MAX_KEY_CHARS} characters."]

    if errors:
        return None, errors
    return CleanEvent(user_id=user_id, name=name, value=value, event_id=event_id), {}


def idempotency_key_validate(raw: str | None) -> tuple[str | None, dict[str, list[str]]]:
    """The ``Idempotency-Key`` header: absent, or 1..255 characters."""
    if raw is None:
        return None, {}
    if not raw or len(raw) > MAX_KEY_CHARS:
        return None, {"Idempotency-Key": [f"Must be between 1 and {MAX_KEY_CHARS} characters."]}
    if "\x00" in raw:  # PostgreSQL text cannot hold NUL; the JSON parser refuses it in bodies
        return None, {"Idempotency-Key": ["Null characters are not allowed."]}
    return raw, {}
