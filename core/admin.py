"""Operator pages for the platform's own tables."""

from django.contrib import admin
from django.http import HttpRequest

from core.models import RateLimitCounter


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
