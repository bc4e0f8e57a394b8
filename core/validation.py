"""Checks the hand-written validators of several domains share (each returns an error message
in DRF's words, or None)."""

from typing import Any


def text_error(value: Any, *, max_chars: int) -> str | None:
    """A non-blank JSON string of at most ``max_chars`` characters."""
    if not isinstance(value, str):
        return "Must be a string."
    if not value:
        return "This field may not be blank."
    if len(value) > max_chars:
        return f"Ensure this field has no more than {max_chars} characters."
    return None
