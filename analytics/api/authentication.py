"""The ``x-api-key`` header of collect: one live key of one app, checked on every request."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from analytics.services import KeyIdentity, api_key_authenticate


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
        identity = api_key_authenticate(raw=raw)
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
