"""Factories of the webhooks tests: requests made through the service, as a client would."""

from webhooks.models import CollectionRequest
from webhooks.services import collection_create

CALLBACK_URL = "https://callback.example/hook"


def collection_make(
    *, providers: tuple[str, ...] = ("gas", "internet"), callback_url: str = CALLBACK_URL
) -> CollectionRequest:
    return collection_create(providers=list(providers), callback_url=callback_url)
