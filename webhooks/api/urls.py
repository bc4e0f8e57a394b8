from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("collections", views.CollectionCreateView.as_view(), name="webhooks-collection-create"),
    path(
        "collections/<uuid:request_id>",
        views.CollectionDetailView.as_view(),
        name="webhooks-collection-detail",
    ),
    path(
        "collections/<uuid:request_id>/redeliver",
        views.CollectionRedeliverView.as_view(),
        name="webhooks-collection-redeliver",
    ),
    path(
        "mock-providers/<str:name>",
        views.MockProviderSettingsView.as_view(),
        name="webhooks-mock-provider-settings",
    ),
]
