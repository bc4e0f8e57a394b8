"""Splitting an exact amount into cents by weight, with the largest-remainder method.

Every line gets the floor of its exact share in cents; the cents still missing to reach the
total rounded to cents go one each to the lines with the largest remainders (ties: the order the
lines were given in). The amounts therefore add up to the rounded total exactly. All arithmetic
is on integers and fractions: no float, no intermediate rounding.
"""

from collections.abc import Hashable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")


def cents_round(amount: Decimal) -> Decimal:
    """Round to cents, halves away from zero (how a payout of x.xx5 is rounded)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def amounts_split[K: Hashable](*, total: Decimal, weights: Mapping[K, int]) -> dict[K, Decimal]:
    """Split ``total`` over ``weights`` (non-negative, not all zero) into cents that add up
    to ``cents_round(total)``."""
    denominator = sum(weights.values())
    if denominator <= 0 or any(weight < 0 for weight in weights.values()):
        raise ValueError("weights must be non-negative and not all zero")
    target_cents = int(cents_round(total) * 100)
    total_cents = Fraction(total) * 100
    floors: dict[K, int] = {}
    remainders: list[tuple[Fraction, int, K]] = []
    for order, (key, weight) in enumerate(weights.items()):
        exact = total_cents * weight / denominator
        floor = exact.numerator // exact.denominator
        floors[key] = floor
        remainders.append((exact - floor, order, key))
    missing = target_cents - sum(floors.values())
    remainders.sort(key=lambda item: (-item[0], item[1]))
    for _, _, key in remainders[:missing]:
        floors[key] += 1
    return {key: Decimal(cents).scaleb(-2) for key, cents in floors.items()}
