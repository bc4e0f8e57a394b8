"""Demo data: the mock providers' settings rows, so operators find them in the admin
(idempotent; their values are the PROVIDERS_* defaults)."""

from typing import TextIO

from django.conf import settings

from webhooks.models import MockProvider
from webhooks.selectors import MOCK_PROVIDER_NAMES


def demo_load(*, stdout: TextIO) -> None:
    created = 0
    for name in MOCK_PROVIDER_NAMES:
        _, made = MockProvider.objects.get_or_create(
            name=name,
            defaults={
                "failure_rate": float(settings.PROVIDERS_FAILURE_RATE),
                "latency_ms": settings.PROVIDERS_LATENCY_MS,
            },
        )
        created += made
    stdout.write(f"webhooks: mock providers ready ({created} created)\n")
