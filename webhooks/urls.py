"""URLs of the webhooks domain: its API under /api/webhooks/, the compat path and the mock
providers."""

from django.urls import include, path

from webhooks.api import views

urlpatterns = [
    path("api/webhooks/", include("webhooks.api.urls")),
    path("webhook", views.CompatWebhookView.as_view(), name="webhooks-compat-webhook"),
    path("providers/<str:name>", views.MockProviderView.as_view(), name="webhooks-mock-provider"),
]
