"""NDJSON bodies for the batch endpoint: one JSON value per line.

Blank lines are skipped and not counted; a line that is not valid JSON becomes an
``InvalidLine`` item, so it is rejected at its index instead of failing the whole body. Each
line goes through the platform's JSON parser (``core.api.parsers.json_loads``): nesting
deeper than 1024 levels, ``NaN`` or a NUL character makes that line a rejected item.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from core.api.parsers import json_loads


@dataclass(frozen=True, slots=True)
class InvalidLine:
    line_number: int
    error: str


def ndjson_items(text: str) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json_loads(line))
        except ValueError as exc:
            items.append(InvalidLine(line_number=number, error=str(exc)))
    return items


class NDJSONParser(BaseParser):
    media_type = "application/x-ndjson"

    # DRF lets a parser return any value (its own JSONParser returns lists too); the stubs
    # narrow the return to a mapping.
    def parse(  # type: ignore[override]
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> list[Any]:
        try:
            text = stream.read().decode("utf-8") if stream is not None else ""
        except UnicodeDecodeError as exc:
            raise ParseError(f"NDJSON body is not UTF-8: {exc}") from None
        return ndjson_items(text)
