"""The error conventions every endpoint keeps (shared/spec/README.md)."""

import json

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]


def test_valid_json_is_accepted(api_client):
    response = api_client.post("/echo", {"a": 1}, format="json")
    assert response.status_code == 200
    assert response.json() == {"echo": {"a": 1}}


def test_malformed_json_is_400(api_client):
    response = api_client.post("/echo", data='{"a": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("JSON parse error")


def test_form_body_is_415(api_client):
    response = api_client.post(
        "/echo", data="a=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.',
        "code": "unsupported_media_type",
    }


@override_settings(API_MAX_BODY_BYTES=64)
def test_body_over_the_limit_is_413_before_parsing(api_client):
    body = json.dumps({"pad": "x" * 100})
    response = api_client.post("/echo", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "detail": f"Request body too large: {len(body)} bytes, the limit is 64.",
    }


@override_settings(API_MAX_BODY_BYTES=64)
def test_body_at_the_limit_is_accepted(api_client):
    body = json.dumps({"pad": "x" * 53})
    assert len(body) == 64
    assert api_client.post("/echo", data=body, content_type="application/json").status_code == 200


def test_application_error_shape(api_client):
    response = api_client.post("/echo", {"fail": "conflict"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"code": "already_there", "detail": "Already there.", "id": 7}


def test_missing_credentials_401_and_missing_permission_403(api_client, make_client):
    response = api_client.get("/guarded")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert make_client().get("/guarded").status_code == 403
    assert make_client(perms=("auth.view_user",)).get("/guarded").json() == {"ok": True}
    assert make_client(superuser=True).get("/guarded").status_code == 200


def test_bad_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/guarded")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


@pytest.mark.allow_server_errors
def test_a_500_is_json_and_noticed_by_the_suite(client, no_server_errors):
    client.raise_request_exception = False
    response = client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "Internal server error."}
    assert no_server_errors.lines == ["Internal Server Error: /broken"]
