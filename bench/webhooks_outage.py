"""A 10-minute provider outage simulated with a driven clock, against the bench database.

Run by the ``webhooks`` scenario as ``python -m bench.webhooks_outage`` (Django set up from the
environment). The engine runs for real (claims, breaker, attempts in PostgreSQL); the providers
are the mock providers' own code and the callback a stub answering 200, put in place of
``webhooks.http.transfer`` (where the calls would leave the process) instead of sockets; the
clock moves one second per pass, so ten minutes take seconds. Prints one JSON line: provider
calls made during the outage and after it.
"""

import json
import os
from datetime import UTC, datetime, timedelta
from unittest import mock

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings

    from webhooks import clock, http, providers, recording, work
    from webhooks.models import CollectionRequest, MockProvider
    from webhooks.services import collection_create
    from webhooks.transfer import WireAnswer, WireFailure

    outage_s, arrivals_every_s, callback = 600, 15, "https://127.0.0.1/bench-outage"
    calls = {"gas": 0}
    providers.rng.seed(1)
    recording.rng.seed(1)

    def transfer(wires, *, concurrency):
        answers: list[WireAnswer | WireFailure] = []
        for wire in wires:
            at = datetime.now(UTC)
            if wire.method == "GET" and wire.url == settings.WEBHOOKS_PROVIDERS["gas"]:
                calls["gas"] += 1
                got = providers.mock_provider_answer(name="gas")
                answers.append(WireAnswer(got.status, b"", got.body, at, at))
            elif wire.method == "POST" and wire.url == callback:
                answers.append(WireAnswer(200, b"", b"", at, at))
            else:
                answers.append(WireFailure(f"ConnectionError: no such host: {wire.url}", at, at))
        return answers

    with mock.patch.object(http, "transfer", transfer), clock.clock_drive() as now:
        ends = now() + timedelta(seconds=outage_s)
        MockProvider.objects.update_or_create(
            name="gas", defaults={"failure_rate": 0, "latency_ms": 0, "outage_until": ends}
        )
        submitted = []
        second = 0
        while now() < ends:
            if second % arrivals_every_s == 0:
                submitted.append(collection_create(providers=["gas"], callback_url=callback).pk)
            work.work_run_due()
            now.advance(1)
            second += 1
        during = calls["gas"]
        work.work_settle()
        delivered = CollectionRequest.objects.filter(pk__in=submitted, status="delivered").count()
    print(
        json.dumps(
            {
                "outage_s": outage_s,
                "requests": len(submitted),
                "provider_calls_during_outage": during,
                "provider_calls_after_outage": calls["gas"] - during,
                "delivered_after_recovery": delivered,
                "breaker_failures": settings.WEBHOOKS_BREAKER_FAILURES,
                "breaker_cooldown_s": settings.WEBHOOKS_BREAKER_COOLDOWN_SECONDS,
            }
        )
    )


if __name__ == "__main__":
    main()
