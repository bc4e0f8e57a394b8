"""The per-provider circuit breaker: consecutive failures open it; one probe decides.

closed → (``WEBHOOKS_BREAKER_FAILURES`` consecutive failures) → open until the cool-down ends →
the first fetch due after it takes the probe (half-open, held for ``WEBHOOKS_LEASE_SECONDS``
so a probe whose worker died is taken again) → success closes, failure reopens. Every change is
one conditional UPDATE, so concurrent sweeps never both take the probe. A pass's outcomes are
recorded after the attempts' own transaction has committed (``webhooks.recording``), so the
breaker's row is never locked while the requests' transaction runs (decision 0044).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, DateTimeField, F, Q, Value, When

from webhooks.models import BreakerState, ProviderBreaker

# While another fetch holds the probe, the others look again this soon.
PROBE_WAIT_SECONDS = 1


@dataclass(frozen=True)
class Admission:
    allowed: int  # how many of the wanted calls may go out now
    probe: bool  # the one allowed call is the half-open probe
    retry_at: datetime | None  # when the refused ones are due again


def breakers_ensure(*, providers: list[str]) -> None:
    ProviderBreaker.objects.bulk_create(
        [ProviderBreaker(provider=name) for name in providers], ignore_conflicts=True
    )


def breakers_admit(*, wanted: dict[str, int], now: datetime) -> dict[str, Admission]:
    """How many of the calls ``wanted`` of each provider may go out now: every breaker read in
    one query (created first, closed, for a provider that has none yet)."""
    breakers = {b.provider: b for b in ProviderBreaker.objects.filter(provider__in=list(wanted))}
    if missing := [provider for provider in wanted if provider not in breakers]:
        breakers_ensure(providers=missing)
        breakers.update(
            (b.provider, b) for b in ProviderBreaker.objects.filter(provider__in=missing)
        )
    return {
        provider: _breaker_admit(breakers[provider], wanted=count, now=now)
        for provider, count in wanted.items()
    }


def _breaker_admit(breaker: ProviderBreaker, *, wanted: int, now: datetime) -> Admission:
    provider = breaker.provider
    if breaker.state == BreakerState.CLOSED:
        return Admission(allowed=wanted, probe=False, retry_at=None)
    if breaker.state == BreakerState.OPEN:
        open_until = breaker.open_until
        if open_until is None:  # the check constraint webhooks_breaker_state_fields forbids it
            raise RuntimeError(f"breaker {provider!r} is open with no open_until")
        if open_until > now:
            return Admission(allowed=0, probe=False, retry_at=open_until)
    lease = timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)
    taken = (
        ProviderBreaker.objects.filter(provider=provider)
        .filter(
            Q(state=BreakerState.OPEN, open_until__lte=now)
            | Q(state=BreakerState.HALF_OPEN, probe_until__lte=now)
        )
        .update(state=BreakerState.HALF_OPEN, probe_until=now + lease, open_until=None)
    )
    # The others look again shortly: the probe's answer decides whether they go.
    retry_at = now + timedelta(seconds=PROBE_WAIT_SECONDS)
    return Admission(allowed=min(1, wanted) if taken else 0, probe=bool(taken), retry_at=retry_at)


def breaker_record_success(*, provider: str) -> int:
    return (
        ProviderBreaker.objects.filter(provider=provider)
        .exclude(state=BreakerState.CLOSED, consecutive_failures=0)
        .update(
            state=BreakerState.CLOSED, consecutive_failures=0, open_until=None, probe_until=None
        )
    )


def breaker_record_failure(*, provider: str, probe: bool, now: datetime, count: int = 1) -> None:
    """One UPDATE: count ``count`` consecutive failures, and open the breaker if they trip it
    (reaching ``WEBHOOKS_BREAKER_FAILURES`` in a row while closed, or a failed probe). Every
    condition reads the row as it was before these failures, as one statement does."""
    trips = Q(
        state=BreakerState.CLOSED,
        consecutive_failures__gte=settings.WEBHOOKS_BREAKER_FAILURES - count,
    )
    if probe:
        trips |= Q(state=BreakerState.HALF_OPEN)
    open_until = now + timedelta(seconds=settings.WEBHOOKS_BREAKER_COOLDOWN_SECONDS)
    ProviderBreaker.objects.filter(provider=provider).update(
        consecutive_failures=F("consecutive_failures") + count,
        state=Case(When(trips, then=Value(BreakerState.OPEN)), default=F("state")),
        open_until=Case(When(trips, then=Value(open_until)), default=F("open_until")),
        probe_until=Case(
            When(trips, then=Value(None, output_field=DateTimeField())),
            default=F("probe_until"),
        ),
    )


def breaker_reset(*, provider: str) -> int:
    """Close a breaker by hand (the admin's action); returns 1 if it was not closed."""
    return breaker_record_success(provider=provider)
