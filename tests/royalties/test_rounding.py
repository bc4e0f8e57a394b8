"""The largest-remainder split: amounts add up to the rounded total, exactly."""

from decimal import Decimal

import pytest

from royalties.rounding import amounts_split, cents_round


def test_three_equal_labels_share_ten_euros():
    amounts = amounts_split(total=Decimal("10.00"), weights={"a": 1, "b": 1, "c": 1})
    # 3.333... each: floors give 9.99, the missing cent goes to the first of the equal remainders.
    assert amounts == {"a": Decimal("3.34"), "b": Decimal("3.33"), "c": Decimal("3.33")}


def test_largest_remainder_wins_the_missing_cents():
    # exact: 0.5714..., 0.2857..., 0.1428... of 1.00 → floors 57+28+14 = 99, remainders .14 .57 .28
    amounts = amounts_split(total=Decimal("1.00"), weights={"x": 4, "y": 2, "z": 1})
    assert amounts == {"x": Decimal("0.57"), "y": Decimal("0.29"), "z": Decimal("0.14")}


def test_naive_rounding_would_overshoot_but_the_split_does_not():
    # Each of 6 lines is 1/6 of 0.10 = 0.01666...; rounding each gives 0.02 x 6 = 0.12.
    amounts = amounts_split(total=Decimal("0.10"), weights={n: 1 for n in range(6)})
    assert sum(amounts.values()) == Decimal("0.10")
    assert sorted(amounts.values()) == [Decimal("0.01")] * 2 + [Decimal("0.02")] * 4


def test_total_is_rounded_half_up_to_cents_first():
    amounts = amounts_split(total=Decimal("178.935"), weights={"a": 1, "b": 0})
    assert amounts == {"a": Decimal("178.94"), "b": Decimal("0.00")}
    assert cents_round(Decimal("0.005")) == Decimal("0.01")


def test_zero_weights_are_refused():
    with pytest.raises(ValueError, match="not all zero"):
        amounts_split(total=Decimal("1.00"), weights={"a": 0})
