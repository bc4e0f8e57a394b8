"""Operator pages for the platform's own tables."""

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from core.models import RateLimitCounter

# The one admin site's names (templates/admin/base_site.html shows them).
admin.site.site_header = "Streaming back office"
admin.site.site_title = "Streaming back office"
admin.site.index_title = "Dashboard"


class ReadOnlyModelAdmin(admin.ModelAdmin[Any]):
    """Rows written only by the services: shown and filtered, never added, edited or deleted by
    hand (an admin action that calls a service may still change them)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(RateLimitCounter)
class RateLimitCounterAdmin(admin.ModelAdmin[RateLimitCounter]):
    """Who is being counted now (read-only: the limiter writes these rows)."""

    list_display = ("key", "window_start", "count", "expires_at")
    search_fields = ("key",)
    ordering = ("-window_start", "-count")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: RateLimitCounter | None = None
    ) -> bool:
        return False
