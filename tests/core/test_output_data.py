"""``core.api.serializers.output_data`` answers exactly what the serializer's ``.data`` does."""

import uuid
from datetime import UTC, datetime

import pytest
from rest_framework import serializers

from core.api.serializers import output_data
from royalties.api.serializers import CompatUserOutputSerializer
from streams.api.serializers import HeartbeatOutputSerializer, SessionOutputSerializer
from streams.models import StreamSession, Viewer


class _Everything(serializers.Serializer):
    name = serializers.CharField()
    nested = serializers.CharField(source="inner.value")
    missing = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    secret = serializers.CharField(write_only=True)
    optional = serializers.CharField(required=False)
    computed = serializers.SerializerMethodField()

    def get_computed(self, obj) -> str:
        return f"{obj['name']}!"


def _session(**fields) -> StreamSession:
    session = StreamSession(
        id=uuid.UUID("6b3c1d52-0000-4000-8000-000000000001"),
        viewer_id=1,
        device_id="tv",
        content_id=None,
        started_at=datetime(2026, 12, 6, 7, 0, 0, 123456, tzinfo=UTC),
        last_heartbeat=datetime(2026, 12, 6, 7, 0, 30, tzinfo=UTC),
        expires_at=datetime(2026, 12, 6, 7, 1, 30, tzinfo=UTC),
        **fields,
    )
    session.viewer = Viewer(id=1, user_id="alice")
    return session


@pytest.mark.parametrize(
    ("serializer_class", "instance"),
    [
        (HeartbeatOutputSerializer, _session()),
        (SessionOutputSerializer, _session()),
        (CompatUserOutputSerializer, {"user_id": "7699007", "seconds": 250460}),
        (
            _Everything,
            {"name": "a", "inner": {"value": "v"}, "missing": None, "count": 3, "secret": "s"},
        ),
    ],
)
def test_output_data_is_the_serializers_data(serializer_class, instance):
    assert output_data(serializer_class, instance) == serializer_class(instance).data


def test_output_data_has_the_serializers_exact_body():
    assert output_data(HeartbeatOutputSerializer, _session()) == {
        "id": "6b3c1d52-0000-4000-8000-000000000001",
        "user_id": "alice",
        "device_id": "tv",
        "content_id": None,
        "started_at": "2026-12-06T07:00:00.123456Z",
        "expires_at": "2026-12-06T07:01:30Z",
        "heartbeat_seconds": 20,
        "last_heartbeat": "2026-12-06T07:00:30Z",
    }
    assert list(output_data(_Everything, {"name": "a", "inner": {"value": "v"}, "count": 1})) == [
        "name", "nested", "missing", "count", "computed"
    ]  # fmt: skip
