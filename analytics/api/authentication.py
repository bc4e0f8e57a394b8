"""The ``x-api-key`` header of collect: the key's secret, checked here on every request.

Whether the key is still live (not revoked, not expired) is read on every request too, by the
collect view's admission, in the statement that counts the request against the rate limit
(``analytics.admission``): authenticating here costs no round trip once the process knows the
key.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from analytics.admission import api_key_verify
from analytics.services import KeyIdentity


class AppClient:
    """The authenticated party of collect (not a Django user)."""

    is_authenticated = True

    def __init__(self, identity: KeyIdentity) -> None:
        self.identity = identity


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AppClient, KeyIdentity] | None:
        raw = request.META.get("HTTP_X_API_KEY")  # header names are case-insensitive
        if raw is None:
            return None
        identity = api_key_verify(raw=raw)
        if identity is None:
            raise AuthenticationFailed("Invalid, revoked or expired API key.")
        return AppClient(identity), identity

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when the header is missing.
        return 'ApiKey realm="analytics"'


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        return isinstance(request.user, AppClient)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "analyticsApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "An app's API key, as returned once by register or regenerate.",
        }
