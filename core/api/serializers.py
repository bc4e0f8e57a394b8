"""Serializers every domain shares: the API's one error shape, and the strict input base."""

from collections.abc import Mapping
from functools import cache
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject


class ErrorOutputSerializer(serializers.Serializer[Any]):
    """``{"code": "...", "detail": "..."}``: every error that is not a field-validation error."""

    code = serializers.CharField()
    detail = serializers.CharField()


class StrictInputSerializer(serializers.Serializer[Any]):
    """The base of every input serializer: what the client sent is what it meant, or a 400.

    - A field the serializer does not declare is refused, named: ``{"max_stream": ["Unknown
      field."]}`` (a typo must not silently reset a setting to its default).
    - In a JSON body, a value must have the field's JSON type: ``"5"`` is not an integer,
      ``1`` is not a string, ``"true"`` is not a boolean. Form and multipart bodies carry only
      strings, so there DRF's usual conversion applies.
    - Nested ``StrictInputSerializer`` fields apply the same rules to their objects.

    Read-only fields are not inputs: sending one is an unknown field too.
    """

    default_error_messages = {"unknown_field": "Unknown field."}
    # (field class, JSON types it takes, message); checked in order, first match wins.
    JSON_TYPES: tuple[tuple[type, tuple[type, ...], str], ...] = (
        (serializers.BooleanField, (bool,), "Must be a valid boolean."),
        (serializers.IntegerField, (int,), "A valid integer is required."),
        (serializers.FloatField, (int, float), "A valid number is required."),
        (serializers.DecimalField, (int, float, str), "A valid number is required."),
        (serializers.ChoiceField, (str, int), "Not a valid string."),
        (serializers.CharField, (str,), "Not a valid string."),
        (serializers.UUIDField, (str,), "Not a valid string."),
        (serializers.DateTimeField, (str,), "Not a valid string."),
        (serializers.DateField, (str,), "Not a valid string."),
        (serializers.ListField, (list,), "Expected a list of items."),
        (serializers.DictField, (dict,), "Expected a dictionary of items."),
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors = self._unknown_fields(data)
            if not isinstance(data, QueryDict):
                errors.update(self._type_errors(data))
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def _unknown_fields(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        writable = {field.field_name for field in self._writable_fields}
        message = str(self.error_messages["unknown_field"])
        return {str(name): [message] for name in data if name not in writable}

    def _type_errors(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for field in self._writable_fields:
            value = data.get(str(field.field_name))
            if value is None:
                continue  # absent or null: the field's own required/allow_null rules answer
            for field_class, types, message in self.JSON_TYPES:
                if isinstance(field, field_class):
                    # bool is an int subclass in Python, never a number in JSON.
                    wrong = isinstance(value, bool) and bool not in types
                    if wrong or not isinstance(value, types):
                        errors[str(field.field_name)] = [message]
                    break
        return errors


@cache
def _output_fields(
    serializer_class: type[serializers.Serializer[Any]],
) -> tuple[tuple[str, serializers.Field[Any, Any, Any, Any]], ...]:
    # Bound once, to an instance without data or context, and only read from then on.
    fields = serializer_class().fields
    return tuple((name, field) for name, field in fields.items() if not field.write_only)


def output_data(
    serializer_class: type[serializers.Serializer[Any]], instance: Any
) -> dict[str, Any]:
    """``serializer_class(instance).data``, without building the serializer.

    DRF deep-copies a serializer's declared fields for every instance it makes; on a hot
    endpoint that copy costs more than the request's own statement (docs/performance.md).
    This reads each field as ``Serializer.to_representation`` does, with fields bound once
    per class. Only for output serializers that need no ``context`` (no request, no
    hyperlinks): the fields are shared by every request, so they must not keep state.
    """
    body: dict[str, Any] = {}
    for name, field in _output_fields(serializer_class):
        try:
            attribute = field.get_attribute(instance)
        except SkipField:
            continue
        empty = (attribute.pk if isinstance(attribute, PKOnlyObject) else attribute) is None
        body[name] = None if empty else field.to_representation(attribute)
    return body
