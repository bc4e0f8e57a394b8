"""Admin pages of the analytics domain: owners, apps, keys, the event log, rollups, overview.

Keys show their prefix and state, never the hash; the revoke action refuses them from the next
request on. The overview page draws events per day per app as an SVG made on the server (no
script, nothing loaded from another host).
"""

from typing import TypedDict

from django.contrib import admin, messages
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django_stubs_ext import WithAnnotations

from analytics.chart import chart_build
from analytics.models import ApiKey, App, Batch, DailyCount, DailyUser, Event, Owner, UserStat
from analytics.selectors import events_per_day_per_app, watermark_expression
from analytics.services import api_key_revoke_by_operator
from core.admin import ReadOnlyModelAdmin


class Processed(TypedDict):
    """The annotation of the event list: at or below the watermark."""

    processed: bool


@admin.register(Owner)
class OwnerAdmin(ReadOnlyModelAdmin):
    list_display = ("username", "email", "apps", "is_active", "date_joined")
    search_fields = ("username", "email")
    fields = ("username", "email", "is_active", "date_joined", "last_login")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Owners are the accounts that own at least one app.
        apps = App.objects.filter(owner=OuterRef("pk")).values("owner")
        counted = apps.annotate(n=Count("pk")).values("n")
        return (
            super().get_queryset(request).filter(Exists(apps)).annotate(app_count=Subquery(counted))
        )

    @admin.display(description="apps", ordering="app_count")
    def apps(self, obj) -> int:
        return obj.app_count


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "owner", "domain", "created_at")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("name", "=id", "owner__username", "domain")
    list_select_related = ("owner",)
    readonly_fields = ("id", "created_at")
    fields = ("id", "owner", "name", "domain", "created_at")
    inlines = (ApiKeyInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return (
            False  # register through the API or `manage.py create_analytics_app` (key shown once)
        )

    def get_urls(self):
        overview = self.admin_site.admin_view(self.overview_view)
        return [path("overview/", overview, name="analytics_overview"), *super().get_urls()]

    def overview_view(self, request: HttpRequest) -> TemplateResponse:
        chart = chart_build(events_per_day_per_app(days=30))
        context = {
            **self.admin_site.each_context(request),
            "title": "Analytics overview: events per day per app",
            "chart": chart,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/analytics/overview.html", context)


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("live", "live"), ("revoked", "revoked"))

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyModelAdmin):
    list_display = ("prefix", "app", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = (KeyStateFilter,)
    search_fields = ("prefix", "app__name", "=app__id")
    list_select_related = ("app",)
    # The hash is never shown.
    fields = ("prefix", "app", "created_at", "last_used_at", "expires_at", "revoked_at")
    actions = ("revoke",)

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.action(description="Revoke selected keys (refused from the next request on)")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = api_key_revoke_by_operator(key_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Revoked {revoked} keys.", messages.SUCCESS)


class ProcessedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("pending", "pending"), ("processed", "processed"))

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(processed=False)
        if self.value() == "processed":
            return queryset.filter(processed=True)
        return queryset


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "event",
        "app",
        "device",
        "user_id",
        "ip_address",
        "timestamp",
        "processed",
    )
    list_filter = (ProcessedFilter, "app", "device", ("day", admin.DateFieldListFilter))
    search_fields = ("=event", "=user_id")
    list_select_related = ("app",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        processed = ExpressionWrapper(Q(id__lte=watermark_expression()), BooleanField())
        return super().get_queryset(request).annotate(processed=processed)

    @admin.display(boolean=True, ordering="id", description="processed")
    def processed(self, obj: "WithAnnotations[Event, Processed]") -> bool:
        return obj.processed


@admin.register(Batch)
class BatchAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "created_at", "first_id", "last_id", "size")
    list_filter = (("created_at", admin.DateFieldListFilter),)


@admin.register(DailyCount)
class DailyCountAdmin(ReadOnlyModelAdmin):
    list_display = ("day", "event", "app", "device", "count")
    list_filter = ("app", "device", ("day", admin.DateFieldListFilter))
    search_fields = ("=event",)
    list_select_related = ("app",)


@admin.register(DailyUser)
class DailyUserAdmin(ReadOnlyModelAdmin):
    list_display = ("day", "event", "app", "user_key")
    list_filter = ("app", ("day", admin.DateFieldListFilter))
    search_fields = ("=event", "=user_key")
    list_select_related = ("app",)
    show_full_result_count = False


@admin.register(UserStat)
class UserStatAdmin(ReadOnlyModelAdmin):
    list_display = (
        "user_id",
        "app",
        "total_events",
        "last_timestamp",
        "browser",
        "os",
        "ip_address",
    )
    list_filter = ("app",)
    search_fields = ("=user_id",)
    list_select_related = ("app",)


# Sign-in with Google: the Google client comes from the environment (analytics.signin), and
# Google's tokens are not kept, so allauth's pages for both would only mislead; the owners'
# Google accounts ("Social accounts") stay listed.
def _signin_admin_trim() -> None:
    from allauth.socialaccount.models import SocialApp, SocialToken

    for model in (SocialApp, SocialToken):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_signin_admin_trim()
