"""URLs of the analytics domain: owners' auth and keys under /api/auth/, the rest under
/api/analytics/ (the paths of the spec)."""

from django.urls import include, path

from analytics.api.views import (
    ApiKeyView,
    RegenerateView,
    RegisterView,
    RevokeView,
    SignupView,
    TokenView,
)

urlpatterns = [
    path("api/auth/signup", SignupView.as_view(), name="analytics-signup"),
    path("api/auth/token", TokenView.as_view(), name="analytics-token"),
    path("api/auth/register", RegisterView.as_view(), name="analytics-register"),
    path("api/auth/api-key", ApiKeyView.as_view(), name="analytics-api-key"),
    path("api/auth/regenerate", RegenerateView.as_view(), name="analytics-regenerate"),
    path("api/auth/revoke", RevokeView.as_view(), name="analytics-revoke"),
    path("api/analytics/", include("analytics.api.urls")),
]
