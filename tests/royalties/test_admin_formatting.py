"""How the royalties admin writes numbers and money."""

from decimal import Decimal

import pytest

from royalties.admin.formatting import count, money, money_exact, percent, seconds


@pytest.mark.parametrize(
    ("value", "text"), [(1557150, "1,557,150"), (0, "0"), (999, "999"), (None, "-")]
)
def test_count(value, text):
    assert count(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("178.94"), "178.94"),
        (Decimal("1234567.5"), "1,234,567.50"),
        (Decimal("0.005"), "0.01"),  # halves away from zero, as the report rounds
        (Decimal("-0.005"), "-0.01"),
        (Decimal("14.9900"), "14.99"),
        (None, "-"),
    ],
)
def test_money(value, text):
    assert money(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("7.19100000"), "7.191"),
        (Decimal("14.9900"), "14.99"),
        (Decimal("5"), "5.00"),
        (Decimal("0E-8"), "0.00"),
        (Decimal("12345.67891000"), "12,345.67891"),
        (None, "-"),
    ],
)
def test_money_exact(value, text):
    assert money_exact(value) == text


def test_percent_and_seconds():
    assert percent(Decimal("0.40968564")) == "40.97 %"
    assert percent(Decimal("1")) == "100.00 %"
    assert percent(None) == "-"
    assert seconds(0.1234) == "0.123 s"
    assert seconds(1234.5) == "1,234.500 s"
    assert seconds(None) == "-"
