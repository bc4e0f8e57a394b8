"""Sign-in with Google for owners (django-allauth), offered only when it is configured.

The original service signed owners in with Google and handed them a bearer credential for the
owner endpoints. Here a Google sign-in opens a session on an owner account (created at the
first sign-in while ``ANALYTICS_OPEN_SIGNUP`` is on), and the owner's API token is then read
from ``GET /api/auth/token``, where the sign-in lands (docs/decisions/0054-google-sign-in.md).

- ``google_sign_in_enabled()``: both ``GOOGLE_CLIENT_ID`` and ``GOOGLE_CLIENT_SECRET`` set.
- ``signin_urlpatterns()``: allauth's pages under ``/accounts/``, matched only while sign-in
  is enabled; otherwise the path falls through to the platform's JSON 404.
- The adapters: the Google app comes from those two settings (not from database rows), and
  new accounts follow ``ANALYTICS_OPEN_SIGNUP``.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.urls import Resolver404, URLResolver
from django.urls.resolvers import RoutePattern

PROVIDER = "google"
URL_PREFIX = "accounts/"


def google_sign_in_enabled() -> bool:
    return bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET)


class OwnerAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return settings.ANALYTICS_OPEN_SIGNUP


class GoogleSignInAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return settings.ANALYTICS_OPEN_SIGNUP

    def list_apps(self, request, provider=None, client_id=None) -> list:
        """The one Google app, from the environment; none while sign-in is not configured."""
        from allauth.socialaccount.models import SocialApp

        if not google_sign_in_enabled() or provider not in (None, PROVIDER):
            return []
        if client_id is not None and client_id != settings.GOOGLE_CLIENT_ID:
            return []
        return [
            SocialApp(
                provider=PROVIDER,
                name="Google",
                client_id=settings.GOOGLE_CLIENT_ID,
                secret=settings.GOOGLE_CLIENT_SECRET,
            )
        ]


class _SignInResolver(URLResolver):
    """allauth's URLs, matched only while sign-in with Google is configured.

    Checked per request (not when the URL table is built), so the settings decide at run time
    and the tests can switch it; a non-match falls through to the catch-all JSON 404.
    """

    def resolve(self, path):
        if not google_sign_in_enabled():
            raise Resolver404({"path": path, "tried": []})
        return super().resolve(path)


def signin_urlpatterns() -> list[URLResolver]:
    return [_SignInResolver(RoutePattern(URL_PREFIX, is_endpoint=False), "allauth.urls")]
