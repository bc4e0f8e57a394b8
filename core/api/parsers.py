"""The platform's JSON parser (orjson): malformed, too deep, NaN or NUL bodies are a 400.

orjson refuses nesting deeper than 1024 levels with a ``JSONDecodeError`` instead of a
``RecursionError`` (a 200 KB ``[[[[...`` body was a 500 with the standard library), refuses
``NaN``/``Infinity`` like DRF's strict mode, and is several times faster. Numbers parse as the
standard library parses them (``int`` and ``float``): no endpoint reads JSON money as a
``Decimal`` (ingestion values are integers; royalties take files), so behaviour is unchanged.

A NUL character (``\\u0000``) cannot be stored by PostgreSQL in a text column, while SQLite
stores it: refusing it in every JSON string here keeps both databases answering the same 400.
"""

from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

from core.api.renderers import JSONRenderer

NUL = "\x00"
NUL_MESSAGE = "Null characters are not allowed."


def json_loads(raw: bytes | str) -> Any:
    """Parse one JSON document, raising ``ValueError`` (with a readable message) if it is bad.

    Bad means: not JSON, nested deeper than orjson's 1024 levels, ``NaN``/``Infinity``, or a
    string (value or key) holding a NUL character (``NulCharacterError``, naming the fields:
    the parser answers it in the field-error shape).
    """
    data = orjson.loads(raw)  # orjson.JSONDecodeError is a ValueError
    # Fast path: a NUL can only be there if the text spells it (raw NULs are invalid JSON).
    spelled = b"\\u0000" in raw if isinstance(raw, bytes | bytearray) else "\\u0000" in raw
    if spelled:
        errors = _nul_errors(data)
        if errors:
            raise NulCharacterError(errors)
    return data


class NulCharacterError(ValueError):
    """A JSON string holds NUL; ``errors`` names where, in DRF's field-error shape."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(NUL_MESSAGE)
        self.errors = errors


def _nul_errors(data: Any) -> dict[str, list[str]]:
    """The top-level fields (or array items) whose value holds a NUL somewhere inside."""
    if isinstance(data, dict):
        return {
            str(key): [NUL_MESSAGE] for key, value in data.items() if has_nul(key) or has_nul(value)
        }
    if isinstance(data, list):
        items = [index for index, value in enumerate(data) if has_nul(value)]
        return (
            {"non_field_errors": [f"Item {index}: {NUL_MESSAGE}" for index in items]}
            if items
            else {}
        )
    return {"non_field_errors": [NUL_MESSAGE]} if has_nul(data) else {}


def has_nul(data: Any) -> bool:
    """Whether parsed JSON holds a NUL in a string or a key, at any depth (walked without
    recursion: the depth is whatever the document's is)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def body_required(request: Request) -> None:
    """Refuse a request without a body where the operation needs one (DRF reads none as ``{}``).

    For operations whose input fields are all optional (``PUT`` of a viewer's settings), so an
    empty request is a 400 rather than a silent "all defaults".
    """
    if request.stream is None:
        raise ParseError("A JSON body is required (send {} to keep every default).")


class JSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
                raw = raw.decode(encoding)
            return json_loads(raw)
        except NulCharacterError as exc:
            raise ValidationError(exc.errors) from None
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
