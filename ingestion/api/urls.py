from django.urls import path

from ingestion.api.views import EventBatchView

urlpatterns = [
    path("events", EventBatchView.as_view(), name="ingestion-events-batch"),
]
