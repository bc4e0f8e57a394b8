"""URLs of the streams domain: its service API under /api/streams/ and its compat path."""

from django.urls import include, path

from streams.api import views

urlpatterns = [
    path("api/streams/", include("streams.api.urls")),
    path(
        "add-stream/user/<str:user_id>",
        views.CompatAddStreamView.as_view(),
        name="streams-compat-add-stream",
    ),
]
