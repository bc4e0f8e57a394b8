"""Request and response shapes of the analytics API.

Collect's items are validated by ``analytics.validation.event_validate`` (hot path); its
serializer here only describes the shape for the schema.
"""

from rest_framework import serializers

from analytics.models import Device


class SignupInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    email = serializers.EmailField()


class SignupOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    token = serializers.CharField()


class TokenInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()


class AppRegisterInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    domain = serializers.URLField(max_length=2048)


class AppRegisterOutputSerializer(serializers.Serializer):
    appId = serializers.UUIDField()
    name = serializers.CharField()
    domain = serializers.CharField()
    apiKey = serializers.CharField(help_text="Shown once; store it now.")
    expiresAt = serializers.DateTimeField(allow_null=True)


class AppIdInputSerializer(serializers.Serializer):
    app_id = serializers.CharField(max_length=64)


class RevokeInputSerializer(serializers.Serializer):
    app_id = serializers.CharField(max_length=64, required=False)
    apiKey = serializers.CharField(max_length=255, required=False)

    def validate(self, attrs):
        if ("app_id" in attrs) == ("apiKey" in attrs):
            raise serializers.ValidationError("Give exactly one of app_id and apiKey.")
        return attrs


class RevokeOutputSerializer(serializers.Serializer):
    appId = serializers.UUIDField()
    revoked = serializers.BooleanField(help_text="False when the app had no live key.")


class ApiKeyOutputSerializer(serializers.Serializer):
    appId = serializers.UUIDField()
    prefix = serializers.CharField()
    createdAt = serializers.DateTimeField()
    lastUsedAt = serializers.DateTimeField(allow_null=True)
    expiresAt = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()


class RegeneratedKeyOutputSerializer(serializers.Serializer):
    appId = serializers.UUIDField()
    apiKey = serializers.CharField(help_text="Shown once; the previous key stops working.")


class CollectEventSerializer(serializers.Serializer):
    event = serializers.CharField(min_length=1, max_length=255)
    url = serializers.URLField(required=False, max_length=2048)
    referrer = serializers.URLField(required=False, max_length=2048)
    device = serializers.ChoiceField(choices=Device.values, required=False)
    ipAddress = serializers.IPAddressField(required=False)
    timestamp = serializers.DateTimeField(required=False)
    userId = serializers.CharField(required=False, min_length=1, max_length=255)
    metadata = serializers.DictField(required=False, help_text="At most 8 KB as JSON.")


class CollectOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()


class CollectRejectedItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    # DRF's metaclass moves declared fields off the class, so this name shadows nothing at
    # run time; the stubs see a class attribute overriding Serializer.errors.
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]


class CollectBatchOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    # Present for a JSON array (possibly empty); a single event answers {"accepted": 1} only.
    rejected = CollectRejectedItemSerializer(many=True, required=False)


class EventSummaryInputSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=255)
    startDate = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    endDate = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    app_id = serializers.CharField(required=False, max_length=64)

    def validate(self, attrs):
        start, end = attrs.get("startDate"), attrs.get("endDate")
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"startDate": ["Must not be after endDate."]})
        return attrs


class EventSummaryOutputSerializer(serializers.Serializer):
    event = serializers.CharField()
    count = serializers.IntegerField()
    uniqueUsers = serializers.IntegerField()
    deviceData = serializers.DictField(
        child=serializers.IntegerField(), help_text='Devices seen; no device = "unknown".'
    )


class UserStatsInputSerializer(serializers.Serializer):
    userId = serializers.CharField(max_length=255)
    app_id = serializers.CharField(required=False, max_length=64)


class DeviceDetailsSerializer(serializers.Serializer):
    browser = serializers.CharField()
    os = serializers.CharField()


class UserStatsOutputSerializer(serializers.Serializer):
    userId = serializers.CharField()
    totalEvents = serializers.IntegerField()
    deviceDetails = DeviceDetailsSerializer()
    ipAddress = serializers.CharField()


class AnalyticsFieldErrorsOutputSerializer(serializers.Serializer):
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
