from django.urls import path

from analytics.api.collect import CollectView
from analytics.api.views import EventSummaryView, UserStatsView

urlpatterns = [
    path("collect", CollectView.as_view(), name="analytics-collect"),
    path("event-summary", EventSummaryView.as_view(), name="analytics-event-summary"),
    path("user-stats", UserStatsView.as_view(), name="analytics-user-stats"),
]
