"""URLs of the ingestion domain: its operator API under /api/ingestion/ and its compat paths."""

from django.urls import include, path

from ingestion.api.views import LiveEventView, UserEventsView

urlpatterns = [
    path("liveEvent", LiveEventView.as_view(), name="ingestion-live-event"),
    path("userEvents/<str:userId>", UserEventsView.as_view(), name="ingestion-user-events"),
    path("api/ingestion/", include("ingestion.api.urls")),
]
