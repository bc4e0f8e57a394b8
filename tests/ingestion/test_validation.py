"""``event_validate`` (the hot path) and ``EventInputSerializer`` (the schema) agree."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from ingestion.api.serializers import EventInputSerializer
from ingestion.validation import MAX_VALUE, event_validate

FIELDS = ("userId", "name", "value", "eventId")


def _declared_refusals(data: Any) -> set[str]:
    """The fields the serializer's declared constraints (what the OpenAPI schema publishes)
    refuse, read as JSON Schema reads them: a string is a JSON string, an integer a JSON
    number without a fraction (never a boolean); unknown fields are allowed."""
    if not isinstance(data, dict):
        return {"non_field_errors"}
    refused = set()
    for name, field in EventInputSerializer().fields.items():
        if name not in data or data[name] is None:
            if field.required or (name in data and not field.allow_null):
                refused.add(name)
            continue
        value = data[name]
        if isinstance(field, serializers.ChoiceField):
            ok = isinstance(value, str) and value in field.choices
        elif isinstance(field, serializers.CharField):
            assert field.min_length is not None, name
            assert field.max_length is not None, name
            ok = isinstance(value, str) and field.min_length <= len(value) <= field.max_length
        else:
            assert isinstance(field, serializers.IntegerField)
            assert field.min_value is not None, name
            assert field.max_value is not None, name
            ok = type(value) is int and field.min_value <= value <= field.max_value
        if not ok:
            refused.add(name)
    return refused


def _serializer_result(data: Any) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    serializer = EventInputSerializer(data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data), {}
    return None, {field: [str(e) for e in errors] for field, errors in serializer.errors.items()}


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, 1, MAX_VALUE, MAX_VALUE + 1, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
    st.sampled_from(["", " ", "add_revenue", "subtract_revenue", "x" * 255, "x" * 256]),
)
JSON_VALUES = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=2), st.just({}))
EVENTS = st.dictionaries(st.sampled_from([*FIELDS, "other"]), JSON_VALUES, max_size=5)
VALID = st.fixed_dictionaries(
    {
        "userId": st.text(min_size=1, max_size=255),
        "name": st.sampled_from(["add_revenue", "subtract_revenue"]),
        "value": st.integers(min_value=0, max_value=MAX_VALUE),
    },
    optional={"eventId": st.one_of(st.none(), st.text(min_size=1, max_size=255))},
)
INPUTS = st.one_of(EVENTS, VALID, JSON_SCALARS, st.lists(VALID, max_size=2))


@settings(max_examples=400, deadline=None)
@given(data=INPUTS)
def test_the_validator_and_the_declared_schema_refuse_the_same_fields(data):
    event, errors = event_validate(data)

    assert set(errors) == _declared_refusals(data)
    assert (event is None) == bool(errors)
    assert all(len(messages) == 1 for messages in errors.values())


@settings(max_examples=400, deadline=None)
@given(data=INPUTS)
def test_the_serializer_accepts_and_refuses_as_the_validator_with_the_same_errors(data):
    event, errors = event_validate(data)

    validated, serializer_errors = _serializer_result(data)

    assert serializer_errors == errors
    if event is None:
        assert validated is None
    else:
        expected = {"userId": event.user_id, "name": event.name, "value": event.value}
        if event.event_id is not None:
            expected["eventId"] = event.event_id
        assert validated == expected


def test_known_refusals_carry_the_same_messages_through_both():
    cases = [
        ({"name": "add_revenue", "value": 1}, {"userId": ["This field is required."]}),
        (
            {"userId": None, "name": "add_revenue", "value": 1},
            {"userId": ["This field may not be null."]},
        ),
        (
            {"userId": "u", "name": "add_revenue", "value": True},
            {"value": ["Must be a JSON integer."]},
        ),
        (
            {"userId": "u", "name": "add_revenue", "value": 10.0},
            {"value": ["Must be a JSON integer."]},
        ),
        (
            {"userId": "u", "name": "add_revenue", "value": MAX_VALUE + 1},
            {"value": [f"Must be between 0 and {MAX_VALUE}."]},
        ),
        (
            {"userId": "u", "name": "x", "value": 1},
            {"name": ['Must be "add_revenue" or "subtract_revenue".']},
        ),
        (
            {"userId": "", "name": "add_revenue", "value": 1},
            {"userId": ["This field may not be blank."]},
        ),
        (
            {"userId": "u", "name": "add_revenue", "value": 1, "eventId": "k" * 256},
            {"eventId": ["Ensure this field has no more than 255 characters."]},
        ),
        ([], {"non_field_errors": ["Expected a JSON object with userId, name and value."]}),
    ]
    for data, expected in cases:
        assert event_validate(data) == (None, expected)
        assert _serializer_result(data) == (None, expected)
