"""Service API of the streams domain, under /api/streams/."""

from django.urls import path

from streams.api import views

urlpatterns = [
    path("sessions", views.SessionStartView.as_view(), name="streams-session-start"),
    path(
        "sessions/<uuid:session_id>",
        views.SessionDetailView.as_view(),
        name="streams-session-detail",
    ),
    path(
        "sessions/<uuid:session_id>/heartbeat",
        views.SessionHeartbeatView.as_view(),
        name="streams-session-heartbeat",
    ),
    path("viewers/<str:user_id>", views.ViewerDetailView.as_view(), name="streams-viewer"),
]
