"""Property-based fuzzing of every operation in the platform's own OpenAPI schema.

schemathesis generates requests from ``/api/schema/`` and sends them to the app in-process
(WSGI); every answer must be free of 5xx and match the schema: a documented status, a
documented content type, a body valid against the documented shape. Operations are sent with
the credentials their ``security`` names (operator token, ingestion secret), so the fuzzing
reaches the views rather than stopping at 401.

``SCHEMATHESIS_MAX_EXAMPLES`` sets the examples per operation (default 10, for CI); the longer
run before a release is ``bench/fuzz_api.sh`` (the same test with many more examples).
"""

import os

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err, Ok

from config.wsgi import application

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value) -> bytes:
    # The schema declares the NDJSON body as a string: send it as the text it is.
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else str(value).encode()


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the connection after each request (the test client does not):
    keep it open, or the test's transaction is gone after the first request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db, keep_test_connection) -> dict[str, str]:
    """One credential of each scheme the schema declares: an operator (who also owns an
    analytics app), the ingestion secret, and that app's API key."""
    from django.contrib.auth import get_user_model

    from analytics.services import app_register

    user = get_user_model().objects.create_superuser("fuzz-operator", password=None)
    _, issued = app_register(owner=user, name="fuzz", domain="https://example.com")
    return {"token": Token.objects.create(user=user).key, "api_key": issued.raw}


def _credentials(case, credentials: dict[str, str]) -> dict[str, str]:
    requirements = case.operation.definition.raw.get("security") or [{}]
    schemes = {name for requirement in requirements for name in requirement}
    if "analyticsApiKey" in schemes:
        return {"x-api-key": credentials["api_key"]}
    if "ingestionSecret" in schemes:
        return {"Authorization": settings.INGESTION_SECRETS[0]}
    if "tokenAuth" in schemes:
        return {"Authorization": f"Token {credentials['token']}"}
    return {}


def test_every_operation_is_fuzzed():
    results = list(schema.get_all_operations())
    assert [result.err() for result in results if isinstance(result, Err)] == []
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}"
        for result in results
        if isinstance(result, Ok)
    }
    assert {
        "POST /liveEvent",
        "PUT /api/streams/viewers/{user_id}",
        "POST /api/analytics/collect",
    } <= operations


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_per_its_schema(case, credentials):
    headers = {**(case.headers or {}), **_credentials(case, credentials)}
    checks = CHECKS
    if case.operation.path == "/healthz":
        # Its 503 (no worker seen: none runs in the tests) is its documented answer, not a bug.
        checks = [check for check in CHECKS if check is not not_a_server_error]
    if case.operation.path == "/providers/{name}":
        # The mock providers answer 500 `#fail` on purpose (their documented failure injection).
        checks = [check for check in CHECKS if check is not not_a_server_error]
    case.call_and_validate(headers=headers, checks=checks)
