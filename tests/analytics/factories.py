"""Factories of the analytics domain's tests."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from analytics.models import App
from analytics.services import app_register


class OwnerFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"owner{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "owner-pw-for-tests")


class AppFactory(factory.django.DjangoModelFactory[App]):
    """An app without a key (use ``registered_app`` for one with a live key)."""

    class Meta:
        model = App

    owner = factory.SubFactory(OwnerFactory)
    name = factory.Sequence(lambda n: f"app {n}")
    domain = "https://example.com"
    created_at = factory.LazyFunction(timezone.now)


def registered_app(owner=None, *, name: str = "shop"):
    """(app, raw key) through the service, as POST /api/auth/register makes them."""
    owner = owner or OwnerFactory()
    app, issued = app_register(owner=owner, name=name, domain="https://example.com")
    return app, issued.raw
