import factory
from django.utils import timezone

from ingestion.models import Event, EventName
from ingestion.services import credential_id


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event

    user_id = factory.Sequence(lambda n: f"user{n % 7}")
    name = EventName.ADD_REVENUE
    value = factory.Sequence(lambda n: n % 100)
    amount = factory.LazyAttribute(
        lambda o: o.value if o.name == EventName.ADD_REVENUE else -o.value
    )
    credential = factory.LazyFunction(lambda: credential_id(secret="secret"))
    received_at = factory.LazyFunction(timezone.now)
