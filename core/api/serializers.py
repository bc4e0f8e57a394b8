"""Serializers of the API's one error shape, for the OpenAPI schema of every domain."""

from rest_framework import serializers


class ErrorOutputSerializer(serializers.Serializer):
    """``{"code": "...", "detail": "..."}``: every error that is not a field-validation error."""

    code = serializers.CharField()
    detail = serializers.CharField()
