"""OpenAPI additions: the errors every endpoint can give, declared once for all.

The body-size middleware answers 400 to a URL with a NUL character on every operation, and 413
on every operation that takes a body; the JSON-only parsers 415. Declaring them here keeps each
view's schema about its own errors (an operation that declares its own 400 keeps its
description).
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

ERROR_REF = {"$ref": "#/components/schemas/ErrorOutput"}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["code", "detail"],
}
URL_ERRORS = {"400": "A NUL character (`%00`) in the URL: code `nul_character`."}
BODY_ERRORS = {
    "413": "Request body over API_MAX_BODY_BYTES (multipart: API_MAX_UPLOAD_BYTES).",
    "415": "Body in a content type this endpoint does not take.",
}


RETRY_AFTER_HEADER = {"schema": {"type": "integer"}, "description": "Seconds to wait."}
UNAVAILABLE_RESPONSE = {
    "description": (
        "The database or the cache did not answer for the moment: code `service_unavailable`; "
        "retry after the number of seconds in `Retry-After` (decision 0071)."
    ),
    "headers": {"Retry-After": RETRY_AFTER_HEADER},
    "content": {"application/json": {"schema": ERROR_REF}},
}

THROTTLED_RESPONSE = {
    "description": "Rate limited: retry after the number of seconds in `Retry-After`.",
    "headers": {"Retry-After": RETRY_AFTER_HEADER},
    "content": {"application/json": {"schema": ERROR_REF}},
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus 429 on every operation of a view that has throttles (or
    that counts its own limit: ``rate_limited = True``)."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        limited = getattr(self.view, "rate_limited", False) or self.view.get_throttles()
        if operation is not None and limited:
            operation.setdefault("responses", {}).setdefault("429", THROTTLED_RESPONSE)
        return operation


def common_errors_add(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorOutput", ERROR_SCHEMA)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            errors = {**URL_ERRORS, **(BODY_ERRORS if "requestBody" in operation else {})}
            for status, description in errors.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
            responses.setdefault("503", UNAVAILABLE_RESPONSE)  # /healthz declares its own
    return result
