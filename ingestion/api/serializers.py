"""Request and response shapes of the ingestion API, for the OpenAPI schema.

Validation itself is ``ingestion.validation.event_validate`` (hot path, hand-written); these
serializers describe the shapes. ``EventInputSerializer`` validates through ``event_validate``,
so the two cannot disagree; its declared fields are what the schema shows, and
tests/ingestion/test_validation.py checks them against the validator over generated inputs.
"""

from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from ingestion.validation import MAX_KEY_CHARS, MAX_USER_ID_CHARS, MAX_VALUE, NAMES, event_validate


class EventInputSerializer(serializers.Serializer):
    userId = serializers.CharField(min_length=1, max_length=MAX_USER_ID_CHARS)
    name = serializers.ChoiceField(choices=sorted(NAMES))
    value = serializers.IntegerField(min_value=0, max_value=MAX_VALUE)
    eventId = serializers.CharField(
        required=False,
        allow_null=True,
        min_length=1,
        max_length=MAX_KEY_CHARS,
        help_text="Idempotency key of the event (null: none).",
    )

    def run_validation(self, data: Any = empty) -> dict[str, Any]:
        event, errors = event_validate(None if data is empty else data)
        if event is None:
            raise serializers.ValidationError(errors)
        clean = {"userId": event.user_id, "name": event.name, "value": event.value}
        if event.event_id is not None:
            clean["eventId"] = event.event_id
        return clean


class EventAcceptedOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField(help_text='Always "accepted".')


class EventDuplicateOutputSerializer(EventAcceptedOutputSerializer):
    duplicate = serializers.BooleanField()


class UserEventsOutputSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    revenue = serializers.IntegerField()
    pending_events = serializers.IntegerField()


class RejectedItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    # DRF's metaclass moves declared fields off the class, so this name shadows nothing at
    # run time; the stubs see a class attribute overriding Serializer.errors.
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]


class EventBatchOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectedItemSerializer(many=True)


class FieldErrorsOutputSerializer(serializers.Serializer):
    userId = serializers.ListField(child=serializers.CharField(), required=False)
    name = serializers.ListField(child=serializers.CharField(), required=False)
    value = serializers.ListField(child=serializers.CharField(), required=False)
    eventId = serializers.ListField(child=serializers.CharField(), required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
