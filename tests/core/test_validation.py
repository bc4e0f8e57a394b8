"""core.validation: the checks shared by the domains' hand-written validators."""

import pytest

from core.validation import text_error


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("a", None),
        ("x" * 5, None),
        ("x" * 6, "Ensure this field has no more than 5 characters."),
        ("", "This field may not be blank."),
        (7, "Must be a string."),
        (True, "Must be a string."),
        (["a"], "Must be a string."),
    ],
)
def test_text_error(value, error):
    assert text_error(value, max_chars=5) == error
