"""Input and output shapes of the streams API (shared/spec/streams.md)."""

from django.conf import settings
from rest_framework import serializers

from core.api.serializers import StrictInputSerializer
from streams.services import MAX_STREAMS_LIMIT


class _OptionalIdField(serializers.CharField):
    """An optional string id: absent, null or "" all mean "none"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            required=False, allow_null=True, allow_blank=True, max_length=255, **kwargs
        )

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        return value or None


class SessionStartInputSerializer(StrictInputSerializer):
    user_id = serializers.CharField(max_length=255)
    device_id = _OptionalIdField()
    content_id = _OptionalIdField()
    session_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Optional client-made id; a retry reuses it."
    )


class SessionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.CharField(source="viewer.user_id")
    device_id = serializers.CharField(allow_null=True)
    content_id = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    heartbeat_seconds = serializers.SerializerMethodField()

    def get_heartbeat_seconds(self, obj) -> int:
        return settings.STREAMS_HEARTBEAT_SECONDS


class SessionStartOutputSerializer(SessionOutputSerializer):
    active = serializers.IntegerField(help_text="Active sessions of the viewer, this one included.")
    limit = serializers.IntegerField()


class HeartbeatOutputSerializer(SessionOutputSerializer):
    last_heartbeat = serializers.DateTimeField()


class ActiveSessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    device_id = serializers.CharField(allow_null=True)
    content_id = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField()
    last_heartbeat = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class StreamLimitReachedSerializer(serializers.Serializer):
    code = serializers.CharField(default="stream_limit_reached")
    detail = serializers.CharField()
    limit = serializers.IntegerField()
    active = ActiveSessionSerializer(many=True)


class ViewerInputSerializer(StrictInputSerializer):
    max_streams = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_STREAMS_LIMIT,
        help_text="Absent or null: the platform default (STREAMS_DEFAULT_LIMIT).",
    )


class ViewerOutputSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    max_streams = serializers.IntegerField(help_text="The limit in force for this viewer.")
    active = ActiveSessionSerializer(many=True)
    can_start = serializers.BooleanField()


class CompatCanAddStreamSerializer(serializers.Serializer):
    can_add_stream = serializers.BooleanField(allow_null=True)
    # DRF's metaclass moves declared fields off the class, so this name shadows nothing at
    # run time; the stubs see a class attribute overriding Serializer.errors.
    errors = serializers.CharField(allow_null=True)  # type: ignore[assignment]
