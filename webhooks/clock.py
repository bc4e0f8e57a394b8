"""The clock every scheduling decision of the webhooks domain reads (tests drive it).

Retries are hours apart and outages last minutes: the tests move this clock rather than wait.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


class DrivenClock:
    """A clock that moves only when told (``clock_drive``)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@contextmanager
def clock_drive(start: datetime | None = None) -> Iterator[DrivenClock]:
    """Replace ``now`` by a driven clock for the duration (simulations, tests)."""
    global now
    real = now
    driven = DrivenClock(start or real())
    now = driven
    try:
        yield driven
    finally:
        now = real


def clock_advance(*, seconds: float) -> None:
    if not isinstance(now, DrivenClock):
        raise RuntimeError("the clock is not driven")
    now.advance(seconds)
