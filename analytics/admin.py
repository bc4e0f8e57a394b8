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
from django.utils.safestring import SafeString
from django_stubs_ext import WithAnnotations

from analytics.chart import chart_build
from analytics.models import (
    ApiKey,
    App,
    Batch,
    DailyCount,
    DailyUserSet,
    Event,
    Owner,
    UserStat,
)
from analytics.selectors import (
    app_ids_with_events,
    events_per_day_per_app,
    watermark_expression,
)
from analytics.services import api_key_revoke_by_operator
from core.admin import (
    PlatformModelAdmin,
    ReadOnlyModelAdmin,
    action_confirmation,
    counted,
    short_time,
    shortened,
)


# An app's own text carries its 36-character id: lists name the app and leave the id to its page.
@admin.display(description="app", ordering="app__name")
def app_name(obj) -> str:
    return obj.app.name


@admin.display(description="event", ordering="event")
def event_name(obj) -> SafeString:
    return shortened(obj.event)


@admin.display(description="user id", ordering="user_id")
def user(obj) -> SafeString:
    return shortened(obj.user_id)


@admin.display(description="at", ordering="timestamp")
def event_time(obj) -> str:
    return short_time(obj.timestamp)


class Processed(TypedDict):
    """The annotation of the event list: at or below the watermark."""

    processed: bool


@admin.register(Owner)
class OwnerAdmin(ReadOnlyModelAdmin):
    list_display = ("username", "email", "apps", "is_active", "joined")
    search_fields = ("username", "email")
    fields = ("username", "email", "is_active", "date_joined", "last_login")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Owners are the accounts that own at least one app.
        apps = App.objects.filter(owner=OuterRef("pk")).values("owner")
        app_count = Subquery(apps.annotate(n=Count("pk")).values("n"))
        return super().get_queryset(request).filter(Exists(apps)).annotate(app_count=app_count)

    @admin.display(description="apps", ordering="app_count")
    def apps(self, obj) -> int:
        return obj.app_count

    @admin.display(description="joined", ordering="date_joined")
    def joined(self, obj) -> str:
        return short_time(obj.date_joined)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(App)
class AppAdmin(PlatformModelAdmin[App]):
    list_display = ("name", "owner", "site", "created")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("name", "=id", "owner__username", "domain")
    list_select_related = ("owner",)
    readonly_fields = ("id", "created_at")
    fields = ("id", "owner", "name", "domain", "created_at")
    inlines = (ApiKeyInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Register through the API or `manage.py create_analytics_app` (key shown once).
        return False

    def get_deleted_objects(self, objs, request):
        """An app whose events are in the log is not deleted: the log is kept, and the app's key
        is revoked instead. Said from one query per app; Django's own answer loaded every
        protected event to list it (20 s and 800 MB for 300,000 events; decision 0072)."""
        apps = list(objs)
        logged = app_ids_with_events(app_ids=[app.pk for app in apps])
        if logged:
            protected = [
                f"{app}: its events in the event log, which is kept (revoke the app's key to "
                "stop its collection)"
                for app in apps
                if app.pk in logged
            ]
            return [], {}, set(), protected
        deleted, counts, perms_needed, protected = super().get_deleted_objects(apps, request)
        # An unused app goes with its keys: they are part of it, never deleted on their own.
        perms_needed.discard(ApiKey._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.display(description="domain", ordering="domain")
    def site(self, obj: App) -> SafeString:
        return shortened(obj.domain, 40)

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: App) -> str:
        return short_time(obj.created_at)

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
    list_display = ("prefix", app_name, "created", "last_used", "expires", "revoked")
    list_filter = (KeyStateFilter,)
    search_fields = ("prefix", "app__name", "=app__id")
    list_select_related = ("app",)
    # The hash is never shown.
    fields = ("prefix", "app", "created_at", "last_used_at", "expires_at", "revoked_at")
    actions = ("revoke",)

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: ApiKey) -> str:
        return short_time(obj.created_at)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj: ApiKey) -> str:
        return short_time(obj.last_used_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: ApiKey) -> str:
        return short_time(obj.expires_at)

    @admin.display(description="revoked", ordering="revoked_at")
    def revoked(self, obj: ApiKey) -> str:
        return short_time(obj.revoked_at)

    @admin.action(
        description="Revoke selected keys (refused from the next request on)",
        permissions=["operate"],
    )
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        confirmation = action_confirmation(
            self,
            request,
            queryset,
            question="Revoke these API keys?",
            consequence="Their apps' requests are refused from the next one on; this cannot "
            "be undone (the owner issues a new key).",
        )
        if confirmation is not None:
            return confirmation
        live = list(queryset.filter(revoked_at__isnull=True).select_related("app"))
        revoked = api_key_revoke_by_operator(key_ids=[key.pk for key in live])
        self.message_user(request, _revoked_message(live, revoked), messages.SUCCESS)
        return None


def _revoked_message(live: list[ApiKey], revoked: int) -> str:
    if revoked == 0:
        return "Revoked no key: the selected keys were already revoked"
    if len(live) == 1 and revoked == 1:
        return f"Revoked key {live[0].prefix} of app {live[0].app.name}"
    apps = {key.app_id for key in live}
    return f"Revoked {counted(revoked, 'key')} of {counted(len(apps), 'app')}"


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
    list_display = ("id", event_name, app_name, "device", user, event_time, "processed")
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
    list_display = ("id", "created", "first_id", "last_id", "size")
    list_filter = (("created_at", admin.DateFieldListFilter),)

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: Batch) -> str:
        return short_time(obj.created_at)


@admin.register(DailyCount)
class DailyCountAdmin(ReadOnlyModelAdmin):
    list_display = ("day", event_name, app_name, "device", "count")
    list_filter = ("app", "device", ("day", admin.DateFieldListFilter))
    search_fields = ("=event",)
    list_select_related = ("app",)


@admin.register(DailyUserSet)
class DailyUserSetAdmin(ReadOnlyModelAdmin):
    """Each day's distinct users of an event, as their number (the bitmap itself, a list of
    dictionary numbers, would tell an operator nothing)."""

    list_display = ("day", event_name, app_name, "user_count")
    list_filter = ("app", ("day", admin.DateFieldListFilter))
    search_fields = ("=event",)
    list_select_related = ("app",)
    fields = ("app", "event", "day", "user_count")
    show_full_result_count = False


@admin.register(UserStat)
class UserStatAdmin(ReadOnlyModelAdmin):
    list_display = (user, app_name, "total_events", "last_event", "browser_", "os_")
    list_filter = ("app",)
    search_fields = ("=user_id",)
    list_select_related = ("app",)

    @admin.display(description="last event", ordering="last_timestamp")
    def last_event(self, obj: UserStat) -> str:
        return short_time(obj.last_timestamp)

    @admin.display(description="browser", ordering="browser")
    def browser_(self, obj: UserStat) -> SafeString:
        return shortened(obj.browser)

    @admin.display(description="os", ordering="os")
    def os_(self, obj: UserStat) -> SafeString:
        return shortened(obj.os)


# Sign-in with Google: the Google client comes from the environment (analytics.signin), and
# Google's tokens are not kept, so allauth's pages for both would only mislead; the owners'
# Google accounts ("Social accounts") stay listed.
def _signin_admin_trim() -> None:
    from allauth.socialaccount.models import SocialApp, SocialToken

    for model in (SocialApp, SocialToken):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_signin_admin_trim()
