"""The platform's admin site: Django's, with our names and the dashboard on its index.

Installed through ``core.apps.PlatformAdminConfig`` (in place of ``django.contrib.admin``), so
``admin.site`` is this site and every domain registers on it as usual.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from core.charts import (
    BarChart,
    ColumnChart,
    bar_chart_build,
    column_chart_build,
    hour_chart_build,
)
from core.dashboard import CHART_DAYS, REFUSAL_CHART_HOURS, Dashboard, dashboard_get


@dataclass(frozen=True)
class DashboardCharts:
    revenue: BarChart | None
    ingestion: ColumnChart
    analytics: ColumnChart | None
    refusals: ColumnChart


def dashboard_charts_build(dashboard: Dashboard) -> DashboardCharts:
    run = dashboard.latest_run
    revenue = None
    if run is not None:
        revenue = bar_chart_build(run.labels, unattributed=run.unattributed)
    today = timezone.now().date()
    ingestion = column_chart_build(dashboard.ingestion_per_day, last_day=today, days=CHART_DAYS)
    analytics = None
    if dashboard.analytics_per_day:
        last = dashboard.analytics_per_day[-1][0]
        analytics = column_chart_build(dashboard.analytics_per_day, last_day=last, days=CHART_DAYS)
    refusals = hour_chart_build(
        dashboard.refusals_per_hour, last_hour=dashboard.this_hour, hours=REFUSAL_CHART_HOURS
    )
    return DashboardCharts(revenue, ingestion, analytics, refusals)


class PlatformAdminSite(admin.AdminSite):
    site_header = "Streaming back office"
    site_title = "Streaming back office"
    index_title = "Dashboard"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        dashboard = dashboard_get()
        context = {
            "dashboard": dashboard,
            "charts": dashboard_charts_build(dashboard),
            **(extra_context or {}),
        }
        return super().index(request, context)
