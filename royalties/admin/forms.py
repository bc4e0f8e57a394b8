"""The admin's upload form for a new run: the same inputs as ``POST /api/royalties/runs``,
checked by the API's own input serializer (one set of rules for both doors)."""

from typing import Any

from django import forms

from royalties.api.serializers import RunInputSerializer


class RunUploadForm(forms.Form):
    # Not required here: RunInputSerializer decides, so both doors give the same messages.
    streams = forms.FileField(
        required=False, allow_empty_file=True, help_text="Streaming log (CSV)."
    )
    users = forms.FileField(required=False, allow_empty_file=True, help_text="Subscribers (CSV).")
    tracks = forms.FileField(
        required=False, allow_empty_file=True, help_text="Track metadata (JSON) ..."
    )
    tracks_url = forms.CharField(
        required=False,
        label="or tracks URL",
        help_text="... or the http(s) URL of the Metadata API.",
        widget=forms.URLInput(attrs={"size": 60}),
    )

    def clean(self) -> dict[str, Any]:
        data = {name: value for name, value in (super().clean() or {}).items() if value}
        serializer = RunInputSerializer(data=data)
        if not serializer.is_valid():
            for field, messages in serializer.errors.items():
                target = field if field in self.fields else None
                for message in messages:
                    self.add_error(target, str(message))
            return {}
        return dict(serializer.validated_data)
