"""How the royalties admin writes numbers: counts with thousands separators, money as the
report shows it (cents, halves away from zero), shares as percentages."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def count(value: int | None) -> str:
    """``1557150`` → ``1,557,150``; ``-`` when there is no value yet."""
    return "-" if value is None else f"{value:,}"


def money(value: Decimal | None) -> str:
    """Euros to the cent with thousands separators: ``1234.5`` → ``1,234.50``."""
    if value is None:
        return "-"
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def money_exact(value: Decimal | None) -> str:
    """An exact amount (a contribution: fee x share) to the cent, or to the places it needs:
    ``7.19100000`` → ``7.191``, ``14.9900`` → ``14.99``, ``5`` → ``5.00``."""
    if value is None:
        return "-"
    if value == value.quantize(CENT):
        return money(value)
    return f"{value.normalize():,f}"


def percent(share: Decimal | None) -> str:
    """A share of 1 as a percentage to 2 places: ``0.40968564`` → ``40.97 %``."""
    if share is None:
        return "-"
    return f"{(share * 100).quantize(CENT, rounding=ROUND_HALF_UP)} %"


def seconds(value: float | None) -> str:
    """A phase's duration: ``0.1234`` → ``0.123 s``."""
    return "-" if value is None else f"{value:,.3f} s"
