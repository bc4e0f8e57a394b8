"""URLs of the royalties domain: its operator API under /api/royalties/ and its compat paths."""

from django.urls import include, path

from royalties.api import views

urlpatterns = [
    path("api/royalties/", include("royalties.api.urls")),
    path("report", views.CompatReportView.as_view(), name="compat-report"),
    path("revenue", views.CompatRevenueView.as_view(), name="compat-revenue"),
    path("users", views.CompatUserListView.as_view(), name="compat-users"),
    path("users/<str:user_id>", views.CompatUserView.as_view(), name="compat-user"),
    path("consolidated", views.CompatConsolidatedView.as_view(), name="compat-consolidated"),
]
