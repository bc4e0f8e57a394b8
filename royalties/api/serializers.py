"""Shapes of the royalties API: the operator API and the compat endpoints."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import StrictInputSerializer
from royalties.models import Run


class RunInputSerializer(StrictInputSerializer):
    streams = serializers.FileField(help_text="Streaming log (CSV).")
    users = serializers.FileField(help_text="Subscribers (CSV).")
    tracks = serializers.FileField(required=False, help_text="Track metadata (JSON).")
    tracks_url = serializers.URLField(
        required=False, help_text="http(s) URL of the track metadata (instead of `tracks`)."
    )

    def validate_tracks_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Enter an http or https URL.")
        return value

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("tracks")) == bool(attrs.get("tracks_url")):
            raise serializers.ValidationError(
                {"tracks": ["Give exactly one of the `tracks` file or `tracks_url`."]}
            )
        return attrs


class RowsSerializer(serializers.Serializer):
    read = serializers.IntegerField()
    loaded = serializers.IntegerField()
    rejected = serializers.IntegerField()


class RejectedRowSerializer(serializers.Serializer):
    file = serializers.CharField()
    line = serializers.IntegerField()
    error = serializers.CharField()


class UnattributedSerializer(serializers.Serializer):
    seconds = serializers.IntegerField()
    streams = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class RunOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField()
    rows = serializers.SerializerMethodField()
    # DRF's metaclass moves declared fields off the class, so this name shadows nothing at
    # run time; the stubs see a class attribute overriding Serializer.errors.
    errors = RejectedRowSerializer(many=True)  # type: ignore[assignment]
    warnings = serializers.ListField(child=serializers.CharField())
    checksums = serializers.DictField(child=serializers.CharField())
    timings = serializers.DictField(child=serializers.FloatField())
    unattributed = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "url",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "inputs",
            "checksums",
            "rows",
            "warnings",
            "errors",
            "error",
            "timings",
            "revenue",
            "total_seconds",
            "unattributed",
            "rerun_of",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, run: Run) -> str:
        path = reverse("royalties-run-detail", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @staticmethod
    def _name(path: str) -> str:
        return path.rsplit("/", 1)[-1] if path else ""

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_inputs(self, run: Run) -> dict[str, str]:
        return {
            "streams": self._name(run.streams_path),
            "users": self._name(run.users_path),
            "tracks": self._name(run.tracks_path),
            "tracks_url": run.tracks_url,
        }

    @extend_schema_field(RowsSerializer(allow_null=True))
    def get_rows(self, run: Run) -> dict | None:
        # A run gets its counts once the streaming log is read: queued, running and runs that
        # failed before (empty or undecodable file, metadata down) have none, so null.
        if not all(key in (run.rows or {}) for key in RowsSerializer().fields):
            return None
        return RowsSerializer(run.rows).data

    @extend_schema_field(UnattributedSerializer(allow_null=True))
    def get_unattributed(self, run: Run) -> dict | None:
        if run.status != Run.Status.SUCCEEDED:
            return None
        return UnattributedSerializer(
            {
                "seconds": run.unattributed_seconds,
                "streams": run.unattributed_streams,
                "amount": run.unattributed_amount,
            }
        ).data


class RunSubmittedOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.URLField()
    report_url = serializers.URLField()


class LabelOutputSerializer(serializers.Serializer):
    # DRF's metaclass moves declared fields off the class, so this name shadows nothing at
    # run time; the stubs see a class attribute overriding Field.label.
    label = serializers.CharField(source="name")  # type: ignore[assignment]
    tracks = serializers.IntegerField()
    streams = serializers.IntegerField()
    seconds = serializers.IntegerField()
    share = serializers.DecimalField(max_digits=10, decimal_places=8)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class ReportOutputSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    total_seconds = serializers.IntegerField()
    labels = LabelOutputSerializer(many=True)
    unattributed = UnattributedSerializer()
    rows = RowsSerializer()
    warnings = serializers.ListField(child=serializers.CharField())


class UserOutputSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    seconds = serializers.IntegerField()
    run = serializers.IntegerField()


class CompatUserOutputSerializer(serializers.Serializer):
    """``{"User": "7699007", "Total Streamed": 250460}``: the original keys, space included."""

    User = serializers.CharField(source="user_id")

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["Total Streamed"] = serializers.IntegerField(source="seconds")
        return fields


class CompatRevenueOutputSerializer(serializers.Serializer):
    revenue = serializers.FloatField()


class CompatEntryOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    user_id = serializers.CharField()
    product_type = serializers.CharField(allow_null=True)
    fee = serializers.FloatField(allow_null=True)
    origin = serializers.CharField(allow_null=True)
    region = serializers.CharField()
    track_id = serializers.CharField()
    track_name = serializers.CharField(allow_null=True)
    track_label = serializers.CharField(allow_null=True)
    seconds = serializers.IntegerField()
