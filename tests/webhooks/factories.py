"""Factories of the webhooks tests: requests made through the service, as a client would; mock
providers as an operator sets them (by default: always answering, at once)."""

import factory

from webhooks.models import CollectionRequest, MockProvider
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
