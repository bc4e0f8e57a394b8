"""The ingestion secret: the ``Authorization`` header must equal one configured secret exactly.

No scheme prefix, no case folding, no trimming. Several secrets may be live at once (rotation);
each is compared in constant time and all of them are compared, so timing reveals neither the
secret nor which one matched.
"""

import hmac

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ingestion.services import credential_id


class IngestionClient:
    """The authenticated party: a holder of one ingestion secret (not a Django user)."""

    is_authenticated = True

    def __init__(self, credential: str) -> None:
        self.credential = credential


def secret_match(presented: str) -> str | None:
    """The matching configured secret, or None."""
    presented_bytes = presented.encode()
    matched = None
    for secret in settings.INGESTION_SECRETS:
        if hmac.compare_digest(presented_bytes, secret.encode()) and matched is None:
            matched = secret
    return matched


class IngestionSecretAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[IngestionClient, str] | None:
        presented = request.META.get("HTTP_AUTHORIZATION")
        if presented is None:
            return None
        secret = secret_match(presented)
        if secret is None:
            raise AuthenticationFailed("Invalid ingestion secret.")
        credential = credential_id(secret=secret)
        return IngestionClient(credential), credential

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when the header is missing.
        return 'Secret realm="ingestion"'


class HasIngestionSecret(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        return isinstance(request.user, IngestionClient)


class IngestionSecretScheme(OpenApiAuthenticationExtension):
    target_class = IngestionSecretAuthentication
    name = "ingestionSecret"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "One of the configured ingestion secrets, exactly (no scheme).",
        }
