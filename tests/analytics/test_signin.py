"""Sign-in with Google for owners (django-allauth), with Google's side mocked at the HTTP edge.

The flow is the one allauth's own Google tests drive (``OAuth2TestsMixin.login``: POST the
provider's login URL, follow its redirect's ``state`` to the callback with a ``code``, answer
the token request, and, without an ``id_token``, the userinfo request), with the two outbound
calls answered by ``responses``. allauth's helpers for this (``tests/mocking.py``) ship only in
its source distribution, not in the installed package.
"""

import hashlib
import time
from base64 import urlsafe_b64encode
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import responses
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from rest_framework.authtoken.models import Token

from analytics.models import App
from tests.analytics.conftest import json_client

pytestmark = pytest.mark.django_db

CLIENT_ID = "1234-test.apps.googleusercontent.com"
CLIENT_SECRET = "test-google-client-secret"
AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"
USERINFO_URL = "https://www.googleapis.com/oauth2/v2/userinfo"
CALLBACK = "/accounts/google/login/callback/"
SUB = "108204268033311374519"
EMAIL = "raymond.penners@example.com"


@pytest.fixture
def google(settings):
    settings.GOOGLE_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_CLIENT_SECRET = CLIENT_SECRET
    settings.ANALYTICS_OPEN_SIGNUP = True
    return settings


def _identity(**overrides) -> dict:
    now = int(time.time())
    return {
        "iss": "https://accounts.google.com",
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": SUB,
        "email": EMAIL,
        "email_verified": True,
        "name": "Raymond Penners",
        "given_name": "Raymond",
        "family_name": "Penners",
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }


def _userinfo(**overrides) -> dict:
    identity = _identity(**overrides)
    return {
        "id": identity["sub"],
        "email": identity["email"],
        "verified_email": identity["email_verified"],
        "name": identity["name"],
        "given_name": identity["given_name"],
        "family_name": identity["family_name"],
    }


def _start(client) -> dict[str, str]:
    """POST the login URL: Google's authorisation URL with our client, callback and PKCE."""
    response = client.post("/accounts/google/login/?process=login")
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == AUTHORIZE_URL
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"http://testserver{CALLBACK}"
    assert query["response_type"] == "code"
    assert set(query["scope"].split()) == {"openid", "profile", "email"}
    assert query["code_challenge_method"] == "S256"
    return query


def sign_in(client, *, via: str = "id_token", **identity) -> HttpResponse:
    """The whole round trip; returns the callback's response. ``via``: how Google tells who
    signed in: an ``id_token`` in the token answer, or the userinfo endpoint."""
    query = _start(client)
    token_answer = {"access_token": "test-access", "expires_in": 3600, "token_type": "Bearer"}
    with responses.RequestsMock() as google_http:
        if via == "id_token":
            signed = jwt.encode(_identity(**identity), "k" * 32, algorithm="HS256")
            token_answer["id_token"] = signed
        else:
            google_http.get(
                USERINFO_URL,
                json=_userinfo(**identity),
                match=[responses.matchers.header_matcher({"Authorization": "Bearer test-access"})],
            )
        google_http.post(TOKEN_URL, json=token_answer)
        response = client.get(CALLBACK, {"code": "the-code", "state": query["state"]})
        body = google_http.calls[0].request.body
    assert isinstance(body, str), body
    sent = parse_qs(body)
    assert sent["client_id"] == [CLIENT_ID]
    assert sent["client_secret"] == [CLIENT_SECRET]
    assert sent["code"] == ["the-code"]
    verifier = sent["code_verifier"][0].encode()
    challenge = urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    assert challenge == query["code_challenge"]
    return response


@pytest.mark.parametrize("via", ["id_token", "userinfo"])
def test_google_sign_in_makes_an_owner_who_gets_a_token_and_registers_apps(client, google, via):
    response = sign_in(client, via=via)
    assert (response.status_code, response["Location"]) == (302, "/api/auth/token")

    user = get_user_model().objects.get()
    assert (user.username, user.email, user.has_usable_password()) == (
        "raymond",
        EMAIL,
        False,
    )
    account = SocialAccount.objects.get()
    assert (account.user, account.provider, account.uid) == (user, "google", SUB)

    landed = client.get("/api/auth/token")  # the session is the credential
    assert landed.status_code == 200
    assert landed.json() == {
        "username": "raymond",
        "token": Token.objects.get(user=user).key,
    }

    owner_api = json_client()
    owner_api.credentials(HTTP_AUTHORIZATION=f"Token {landed.json()['token']}")
    registered = owner_api.post(
        "/api/auth/register", {"name": "shop", "domain": "https://example.com"}
    )
    assert registered.status_code == 201
    assert App.objects.get().owner == user


def test_signing_in_again_is_the_same_owner_and_token(client, google, settings):
    sign_in(client)
    first = client.get("/api/auth/token").json()
    client.logout()
    settings.ANALYTICS_OPEN_SIGNUP = False  # signup governs new accounts, not returning ones
    response = sign_in(client, email="new-address@example.com")
    assert (response.status_code, response["Location"]) == (302, "/api/auth/token")
    assert client.get("/api/auth/token").json() == first
    assert get_user_model().objects.count() == 1
    assert Token.objects.count() == 1


@pytest.mark.parametrize("via", ["id_token", "userinfo"])
def test_closed_signup_refuses_a_new_google_account(client, google, settings, via):
    settings.ANALYTICS_OPEN_SIGNUP = False
    response = sign_in(client, via=via)
    assert response.status_code == 200
    assert b"Sign Up Closed" in response.content
    assert get_user_model().objects.count() == 0
    assert SocialAccount.objects.count() == 0
    assert client.get("/api/auth/token").status_code == 401


def test_an_account_with_the_same_email_is_never_taken_over(client, google, api_client):
    # An open signup typed this address without proving it: the Google account that really
    # owns it gets an account of its own, and the typed-in account gets no Google login.
    typed = api_client.post(
        "/api/auth/signup",
        {"username": "first-comer", "password": "a-long-passphrase-1", "email": EMAIL},
        format="json",
    )
    assert typed.status_code == 201
    sign_in(client)
    signed_in = client.get("/api/auth/token").json()
    assert signed_in["username"] != "first-comer"
    assert signed_in["token"] != typed.json()["token"]
    assert SocialAccount.objects.get().user.username == signed_in["username"]


def test_a_token_google_refuses_or_a_forged_state_signs_no_one_in(client, google):
    query = _start(client)
    with responses.RequestsMock() as google_http:
        google_http.post(TOKEN_URL, json={"error": "invalid_grant"}, status=400)
        refused = client.get(CALLBACK, {"code": "stale", "state": query["state"]})
    forged = client.get(CALLBACK, {"code": "the-code", "state": "forged"})
    expired = sign_in(client, exp=int(time.time()) - 10)
    for response in (refused, forged, expired):
        assert response.status_code == 401
        assert b"Third-Party Login Failure" in response.content
    assert get_user_model().objects.count() == 0
    assert client.get("/api/auth/token").status_code == 401


def test_the_login_page_offers_google(client, google):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"/accounts/google/login/" in response.content


@pytest.mark.parametrize(("client_id", "secret"), [("", ""), (CLIENT_ID, ""), ("", CLIENT_SECRET)])
@pytest.mark.parametrize(
    "url", ["/accounts/google/login/", CALLBACK, "/accounts/login/", "/accounts/3rdparty/signup/"]
)
def test_without_both_google_settings_sign_in_is_not_offered(
    client, settings, client_id, secret, url
):
    settings.GOOGLE_CLIENT_ID = client_id
    settings.GOOGLE_CLIENT_SECRET = secret
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url)
        assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize("google_configured", [False, True])
def test_the_admin_login_keeps_working(client, settings, google_configured):
    if google_configured:
        settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    get_user_model().objects.create_superuser("ops", "ops@example.com", "ops-password-for-tests")
    page = client.get("/admin/login/")
    assert page.status_code == 200
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "ops", "password": "ops-password-for-tests"},
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_the_token_page_needs_a_signed_in_owner(api_client, owner_client, owner):
    assert api_client.get("/api/auth/token").status_code == 401
    response = owner_client.get("/api/auth/token")
    assert response.status_code == 200
    assert response.json() == {
        "username": owner.username,
        "token": Token.objects.get(user=owner).key,
    }


def test_a_google_owner_reads_in_the_admin_and_through_the_api(client, google, admin_client):
    sign_in(client)
    owner_api = json_client()
    owner_api.credentials(
        HTTP_AUTHORIZATION=f"Token {client.get('/api/auth/token').json()['token']}"
    )
    app_id = owner_api.post(
        "/api/auth/register", {"name": "shop", "domain": "https://example.com"}
    ).json()["appId"]
    assert owner_api.get("/api/auth/api-key", {"app_id": app_id}).json()["active"] is True

    owner = get_user_model().objects.get(username="raymond")
    account = SocialAccount.objects.get()
    assert admin_client.get(f"/admin/analytics/owner/{owner.pk}/change/").status_code == 200
    listed = admin_client.get("/admin/socialaccount/socialaccount/", {"q": "raymond"})
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 1
    page = admin_client.get(f"/admin/socialaccount/socialaccount/{account.pk}/change/")
    assert page.status_code == 200
    assert SUB in page.content.decode()
    # The Google client lives in the environment and Google's tokens are not kept: no pages.
    assert admin_client.get("/admin/socialaccount/socialapp/").status_code == 404
    assert admin_client.get("/admin/socialaccount/socialtoken/").status_code == 404


def test_an_owner_an_operator_linked_to_google_signs_in_as_themselves(client, google, settings):
    settings.ANALYTICS_OPEN_SIGNUP = False
    existing = get_user_model().objects.create_user("shop-owner", password="pw-for-tests-only")
    SocialAccount.objects.create(user=existing, provider="google", uid=SUB)  # as the admin does
    response = sign_in(client)
    assert (response.status_code, response["Location"]) == (302, "/api/auth/token")
    assert client.get("/api/auth/token").json() == {
        "username": "shop-owner",
        "token": Token.objects.get(user=existing).key,
    }
    assert get_user_model().objects.count() == 1
