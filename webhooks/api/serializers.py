"""Input and output shapes of the webhooks API."""

from functools import cache
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import StrictInputSerializer
from webhooks.netguard import CallbackRefusedError, callback_check, url_host_port

URL_MAX_LENGTH = 2048


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "gas"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ]
    }
)
class ProvidersField(serializers.Field):
    """A provider name or a non-empty list of them; duplicates collapse, order is kept."""

    default_error_messages = {
        "invalid": "Must be a provider name or a non-empty list of provider names.",
        "unknown": "Unknown provider: {names}.",
    }

    def to_internal_value(self, data) -> list[str]:
        names = [data] if isinstance(data, str) else data
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.fail("invalid")
        unknown = [name for name in dict.fromkeys(names) if name not in settings.WEBHOOKS_PROVIDERS]
        if unknown:
            self.fail("unknown", names=", ".join(repr(name) for name in unknown))
        return list(dict.fromkeys(names))

    def to_representation(self, value):
        return value


class CollectionInputSerializer(StrictInputSerializer):
    provider = ProvidersField()
    callbackUrl = serializers.URLField(max_length=URL_MAX_LENGTH)

    def validate_callbackUrl(self, value: str) -> str:
        try:
            url_host_port(value)
            callback_check(value)
        except CallbackRefusedError as exc:
            raise serializers.ValidationError(exc.detail) from None
        return value


@cache
def _input_fields() -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    # The serializer's own fields, bound once to an instance without data and only used to
    # validate one value each from then on: they keep no state between calls.
    return dict(CollectionInputSerializer().fields)


def collection_input_at_once(data: Any) -> tuple[list[str], str] | None:
    """``(providers, callbackUrl)`` if ``data`` is valid in the way almost every request is;
    None to let ``CollectionInputSerializer`` decide (and word the errors).

    It runs the serializer's own two fields on the values, without building a serializer
    (DRF deep-copies every field for each one it builds): so it accepts nothing the serializer
    refuses and returns what its ``validated_data`` holds (tests/webhooks/test_input_at_once.py
    checks both against it). It takes only a JSON object of exactly the two fields and a URL
    the field would not strip, which the serializer's own rules (unknown fields, JSON types,
    the stripped value) decide otherwise.

    Raises ``CallbackRefusedError`` when only the guard refuses the URL: the serializer would
    refuse it for the same reason, and asking it would resolve the host once more.
    """
    if type(data) is not dict or len(data) != 2 or "provider" not in data:
        return None
    url = data.get("callbackUrl")
    if type(url) is not str or url != url.strip():
        return None
    fields = _input_fields()
    try:
        providers = fields["provider"].run_validation(data["provider"])
        url = fields["callbackUrl"].run_validation(url)
    except serializers.ValidationError:
        return None
    callback_check(url)  # url_host_port's checks first, as in validate_callbackUrl
    return providers, url


class CollectionAcceptedOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    providers = serializers.ListField(child=serializers.CharField())
    status_url = serializers.URLField()


def collection_accepted_output(created: Any, status_url: str) -> dict[str, Any]:
    """The 202's body for a stored request, as ``CollectionAcceptedOutputSerializer`` renders
    it (its fields are strings, or a list of strings): written out, because the WSGI fast path
    answers it too and a serializer's rendering is a large share of that request
    (tests/webhooks/test_fast_submit.py compares both paths' bytes)."""
    return {
        "id": str(created.pk),
        "status": str(created.status),
        "providers": [str(name) for name in created.providers],
        "status_url": status_url,
    }


class AttemptOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    outcome = serializers.CharField()
    status_code = serializers.IntegerField(allow_null=True)
    response_excerpt = serializers.CharField()
    error = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)


class FetchOutputSerializer(serializers.Serializer):
    provider = serializers.CharField()
    state = serializers.CharField()
    attempt_count = serializers.IntegerField(source="attempts")
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    fetched_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    attempts = AttemptOutputSerializer(many=True, source="attempt_log")


class DeliveryOutputSerializer(serializers.Serializer):
    webhook_id = serializers.CharField()
    state = serializers.CharField()
    attempt_count = serializers.IntegerField(source="attempts")
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    window_ends_at = serializers.DateTimeField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_response = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempts = AttemptOutputSerializer(many=True, source="attempt_log")


class CollectionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    providers = serializers.ListField(child=serializers.CharField())
    callback_url = serializers.CharField()
    created_at = serializers.DateTimeField()
    deadline_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    fetches = FetchOutputSerializer(many=True)
    delivery = DeliveryOutputSerializer(allow_null=True)


class MockProviderInputSerializer(StrictInputSerializer):
    failure_rate = serializers.FloatField(min_value=0, max_value=1)
    outage_until = serializers.DateTimeField(allow_null=True)
    latency_ms = serializers.IntegerField(min_value=0, max_value=60_000)


class MockProviderOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    failure_rate = serializers.FloatField()
    outage_until = serializers.DateTimeField(allow_null=True)
    latency_ms = serializers.IntegerField()
