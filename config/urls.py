"""Every URL of the platform: admin, API docs, health, each domain's API and compat paths, and
the owners' sign-in pages."""

from django.contrib import admin
from django.urls import include, path, re_path

from analytics.signin import signin_urlpatterns
from core.api.views import HealthView, RedocView, SchemaView, SwaggerView
from core.views import NOT_FOUND_URL_NAME, unmatched

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("royalties.urls")),
    path("", include("ingestion.urls")),
    path("", include("streams.urls")),
    path("", include("webhooks.urls")),
    path("", include("analytics.urls")),
    # Sign-in with Google for analytics owners (django-allauth's pages): matched only while
    # GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are set, else they fall through to the 404.
    *signin_urlpatterns(),
    # Last: whatever no route above matched gets the JSON 404, DEBUG on or off.
    re_path(r"^(?P<path>.*)$", unmatched, name=NOT_FOUND_URL_NAME),
]
