"""Operator API of the royalties domain, under /api/royalties/."""

from django.urls import path

from royalties.api import views

urlpatterns = [
    path("runs", views.RunListCreateView.as_view(), name="royalties-runs"),
    path("runs/<int:run_id>", views.RunDetailView.as_view(), name="royalties-run-detail"),
    path("report", views.ReportView.as_view(), name="royalties-report"),
    path("report.csv", views.ReportCsvView.as_view(), name="royalties-report-csv"),
    path("users/<str:user_id>", views.UserView.as_view(), name="royalties-user"),
]
