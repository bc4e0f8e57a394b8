"""Request and response shapes of the ingestion API, for the OpenAPI schema.

Validation itself is ``ingestion.validation.event_validate`` (hot path, hand-written); these
serializers only describe the shapes.
"""

from rest_framework import serializers


class EventInputSerializer(serializers.Serializer):
    userId = serializers.CharField(min_length=1, max_length=255)
    name = serializers.ChoiceField(choices=["add_revenue", "subtract_revenue"])
    value = serializers.IntegerField(min_value=0, max_value=2**53 - 1)
    eventId = serializers.CharField(
        required=False, min_length=1, max_length=255, help_text="Idempotency key of the event."
    )


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
