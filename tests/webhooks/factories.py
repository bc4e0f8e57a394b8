"""Factories of the webhooks tests: requests made through the service, as a client would; mock
providers as an operator sets them (by default: always answering, at once); failed deliveries
as the engine leaves them."""

import json
import uuid
from datetime import datetime, timedelta

import factory

from webhooks import clock
from webhooks.models import CollectionRequest, Delivery, MockProvider, ProviderFetch
from webhooks.services import collection_create

CALLBACK_URL = "https://callback.example/hook"


def collection_make(
    *, providers: tuple[str, ...] = ("gas", "internet"), callback_url: str = CALLBACK_URL
) -> CollectionRequest:
    return collection_create(providers=list(providers), callback_url=callback_url)


class MockProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MockProvider

    name = "gas"
    failure_rate = 0
    latency_ms = 0


def failed_deliveries_make(
    count: int,
    *,
    provider: str = "gas",
    host: str = "callback.example",
    created_at: datetime | None = None,
) -> list[Delivery]:
    """Requests whose callback has failed, written as the engine leaves them (a fetched
    provider, a delivery failed with 410)."""
    now = created_at or clock.now()
    made = []
    for _ in range(count):
        request = CollectionRequest.objects.create(
            providers=[provider],
            callback_url=f"https://{host}/hook",
            callback_host=host,
            status="failed",
            deadline_at=now + timedelta(minutes=5),
            created_at=now,
            finished_at=now,
        )
        ProviderFetch.objects.create(
            request=request, provider=provider, state="fetched", data={"amount": 1}, fetched_at=now
        )
        made.append(
            Delivery.objects.create(
                request=request,
                webhook_id=f"msg_{uuid.uuid4().hex}",
                body=json.dumps({"status": "completed"}),
                state="failed",
                attempts=3,
                window_ends_at=now,
                last_status_code=410,
                last_response="gone",
                created_at=now,
            )
        )
    return made
