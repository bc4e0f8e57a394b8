"""The platform's JSON renderer (orjson), byte-compatible with what DRF's renderer produced.

Types orjson would format its own way (datetimes: DRF writes ``Z`` for UTC; dataclasses) or
does not know (``Decimal`` as a float, lazy strings, ...) go through DRF's encoder, so every
body keeps its exact shape. U+2028/U+2029 stay escaped, as DRF does, for JavaScript embedding.
"""

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_ENCODER = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_OPTIONS |= orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    return _ENCODER.default(value)


def json_dumps(data: Any, *, indent: bool = False) -> bytes:
    options = _OPTIONS | orjson.OPT_INDENT_2 if indent else _OPTIONS
    body = orjson.dumps(data, default=_default, option=options)
    if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
        body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return body


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type or "", renderer_context or {})
        try:
            return json_dumps(data, indent=bool(indent))
        except orjson.JSONEncodeError:
            # An integer beyond 64 bits (a numeric total): the standard library writes it.
            return super().render(data, accepted_media_type, renderer_context)
