import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.analytics.factories import OwnerFactory, registered_app


@pytest.fixture
def owner(db):
    return OwnerFactory()


def json_client() -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


@pytest.fixture
def anon_client(db) -> APIClient:
    return json_client()


@pytest.fixture
def owner_client(owner) -> APIClient:
    client = json_client()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


@pytest.fixture
def app_and_key(owner):
    return registered_app(owner)


@pytest.fixture
def collect_client(app_and_key) -> APIClient:
    client = json_client()
    client.credentials(HTTP_X_API_KEY=app_and_key[1])
    return client
