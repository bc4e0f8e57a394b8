"""The strict input base: unknown fields and wrong JSON types are 400s naming the field."""

import pytest
from django.http import QueryDict
from rest_framework import serializers

from core.api.serializers import StrictInputSerializer


class Inner(StrictInputSerializer):
    flag = serializers.BooleanField()


class Sample(StrictInputSerializer):
    count = serializers.IntegerField(required=False, allow_null=True)
    name = serializers.CharField(required=False)
    ratio = serializers.FloatField(required=False)
    kind = serializers.ChoiceField(choices=["a", "b"], required=False)
    id = serializers.UUIDField(required=False)
    inner = Inner(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    computed = serializers.CharField(read_only=True)


def _errors(data) -> dict:
    serializer = Sample(data=data)
    assert not serializer.is_valid()
    return serializer.errors


def test_unknown_fields_are_named():
    assert _errors({"count": 1, "cuont": 2, "computed": "x"}) == {
        "cuont": ["Unknown field."],
        "computed": ["Unknown field."],
    }


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"count": "5"}, {"count": ["A valid integer is required."]}),
        ({"count": True}, {"count": ["A valid integer is required."]}),
        ({"count": 5.0}, {"count": ["A valid integer is required."]}),
        ({"name": 5}, {"name": ["Not a valid string."]}),
        ({"ratio": "0.5"}, {"ratio": ["A valid number is required."]}),
        ({"ratio": False}, {"ratio": ["A valid number is required."]}),
        ({"kind": ["a"]}, {"kind": ["Not a valid string."]}),
        ({"id": 12}, {"id": ["Not a valid string."]}),
        ({"tags": "a,b"}, {"tags": ["Expected a list of items."]}),
        ({"inner": {"flag": "true"}}, {"inner": {"flag": ["Must be a valid boolean."]}}),
        ({"inner": {"flag": True, "extra": 1}}, {"inner": {"extra": ["Unknown field."]}}),
    ],
)
def test_json_types_are_strict(data, errors):
    assert _errors(data) == errors


def test_valid_json_and_null_pass():
    serializer = Sample(data={"count": None, "name": "x", "ratio": 1, "inner": {"flag": False}})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {
        "count": None,
        "name": "x",
        "ratio": 1.0,
        "inner": {"flag": False},
    }


def test_form_data_is_converted_but_unknown_fields_still_refused():
    serializer = Sample(data=QueryDict("count=5&name=x"))
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"count": 5, "name": "x"}
    assert _errors(QueryDict("count=5&cuont=6")) == {"cuont": ["Unknown field."]}
