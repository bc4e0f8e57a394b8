"""Admin pages of the streams domain: viewers (live count, limit, refusals) and sessions."""

from typing import TypedDict

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django_stubs_ext import WithAnnotations

from streams.models import StreamSession, Viewer
from streams.selectors import (
    ViewerCounts,
    session_active_q,
    session_is_active_expression,
    viewer_list_with_active_count,
)
from streams.services import session_end_many, viewer_set_limit


class ActiveNow(TypedDict):
    """The annotation of the session list."""

    active_now: bool


class ViewerLimitFilter(admin.SimpleListFilter):
    title = "limit"
    parameter_name = "limit"

    def lookups(self, request, model_admin):
        return [("default", "Platform default"), ("own", "Own limit")]

    def queryset(self, request, queryset):
        if self.value() == "default":
            return queryset.filter(max_streams__isnull=True)
        if self.value() == "own":
            return queryset.filter(max_streams__isnull=False)
        return queryset


class ViewerRefusedFilter(admin.SimpleListFilter):
    title = "refused starts"
    parameter_name = "refused"

    def lookups(self, request, model_admin):
        return [("yes", "Refused at least once"), ("no", "Never refused")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(refusal_count__gt=0)
        if self.value() == "no":
            return queryset.filter(refusal_count=0)
        return queryset


@admin.register(Viewer)
class ViewerAdmin(admin.ModelAdmin):
    list_display = [
        "user_id",
        "live_sessions",
        "limit_in_force",
        "own_limit",
        "refusal_count",
        "last_refused_at",
        "updated_at",
    ]
    list_filter = [ViewerLimitFilter, ViewerRefusedFilter]
    search_fields = ["user_id"]
    search_help_text = "Exact or partial user id."
    fields = ["user_id", "max_streams", "refusal_count", "last_refused_at", "created_at"]
    readonly_fields = ["refusal_count", "last_refused_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Viewer]:
        return viewer_list_with_active_count()

    def get_readonly_fields(self, request, obj=None):
        # A viewer's user_id is their identity in every client: fixed once created.
        return [*self.readonly_fields, "user_id"] if obj else self.readonly_fields

    @admin.display(description="live sessions", ordering="active_count")
    def live_sessions(self, obj: "WithAnnotations[Viewer, ViewerCounts]") -> str:
        url = reverse("admin:streams_streamsession_changelist")
        return format_html(
            '<a href="{}?viewer__user_id={}&amp;state=active">{}</a>',
            url,
            obj.user_id,
            obj.active_count,
        )

    @admin.display(description="limit", ordering="effective_limit")
    def limit_in_force(self, obj: "WithAnnotations[Viewer, ViewerCounts]") -> int:
        return obj.effective_limit

    @admin.display(description="own limit", ordering="max_streams")
    def own_limit(self, obj: Viewer) -> str:
        return "default" if obj.max_streams is None else str(obj.max_streams)

    def save_model(self, request, obj: Viewer, form, change: bool) -> None:
        viewer, _ = viewer_set_limit(user_id=obj.user_id, max_streams=obj.max_streams)
        obj.pk = viewer.pk


class SessionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("active", "Active"),
            ("lapsed", "Expired, not yet closed"),
            ("ended", "Ended"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(session_active_q())
        if self.value() == "lapsed":
            return queryset.filter(ended_at__isnull=True, expires_at__lte=Now())
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(StreamSession)
class StreamSessionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "viewer_user_id",
        "device_id",
        "content_id",
        "started_at",
        "last_heartbeat",
        "expires_at",
        "is_active",
        "ended_at",
        "end_reason",
    ]
    list_filter = [SessionStateFilter, "end_reason", "started_at"]
    list_select_related = ["viewer"]
    search_fields = ["=viewer__user_id", "=device_id", "=content_id", "=id"]
    search_help_text = "Exact user id, device id, content id or session id."
    actions = ["force_end"]
    ordering = ["-started_at"]
    readonly_fields = [
        "id",
        "viewer",
        "device_id",
        "content_id",
        "started_at",
        "last_heartbeat",
        "expires_at",
        "ended_at",
        "end_reason",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StreamSession]:
        return super().get_queryset(request).annotate(active_now=session_is_active_expression())

    def lookup_allowed(self, lookup: str, value: str, request=None) -> bool:
        # Filter by user and device from a link or the address bar (?viewer__user_id=...).
        if lookup in ("viewer__user_id", "device_id"):
            return True
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Sessions are started through the API only: it holds the lock that keeps the limit.
        return False

    @admin.display(description="user id", ordering="viewer__user_id")
    def viewer_user_id(self, obj: StreamSession) -> str:
        return obj.viewer.user_id

    @admin.display(description="active", boolean=True, ordering="active_now")
    def is_active(self, obj: "WithAnnotations[StreamSession, ActiveNow]") -> bool:
        return obj.active_now

    @admin.action(description="Force end the selected sessions", permissions=["change"])
    def force_end(self, request: HttpRequest, queryset: QuerySet[StreamSession]) -> None:
        ended = session_end_many(session_ids=queryset.values_list("id", flat=True))
        self.message_user(request, f"{ended} session(s) ended.", messages.SUCCESS)
