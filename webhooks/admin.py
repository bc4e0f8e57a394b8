"""Admin pages of the webhooks domain: collection requests with their work inline, the
failed-deliveries view with its retry actions, the providers' circuit breakers and the mock
providers' failure settings.

Work rows are written only by the engine and the services: shown, filtered, never edited here.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin import (
    PlatformModelAdmin,
    ReadOnlyModelAdmin,
    counted,
    operate_allowed,
    short_time,
    shortened,
)
from webhooks.models import (
    Attempt,
    CollectionRequest,
    Delivery,
    FailedDelivery,
    MockProvider,
    ProviderBreaker,
    ProviderFetch,
)
from webhooks.services import breakers_reset, deliveries_retry

ID_SHOWN_CHARS = 8
WEBHOOK_ID_SHOWN_CHARS = 12
HOST_SHOWN_CHARS = 16
ANSWER_SHOWN_CHARS = 20


def _request_link(request_id) -> SafeString:
    # The first characters of the id tell requests apart in a list; the page has the whole id.
    url = reverse("admin:webhooks_collectionrequest_change", args=[request_id])
    return format_html(
        '<a href="{}" title="{}">{}</a>', url, request_id, str(request_id)[:ID_SHOWN_CHARS]
    )


def _queued_message(retried: int) -> str:
    return f"Queued {counted(retried, 'delivery', 'deliveries')} for retry"


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class FetchInline(ReadOnlyInline):
    model = ProviderFetch
    fields = ("provider", "state", "attempts", "next_attempt_at", "fetched_at", "last_error")


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ("webhook_id", "state", "attempts", "next_attempt_at", "window_ends_at",
              "last_status_code", "last_response", "delivered_at")  # fmt: skip


class AttemptInline(ReadOnlyInline):
    model = Attempt
    fields = ("kind", "provider", "number", "outcome", "status_code", "response_excerpt",
              "error", "started_at", "finished_at", "next_attempt_at")  # fmt: skip


class ProviderFilter(admin.SimpleListFilter):
    """Requests by provider. The choices are the configured providers: no scan of the fetches
    on every page (a fetch of a provider since removed is still found by its name in the URL)."""

    title = "provider"
    parameter_name = "provider"
    lookup = "fetches__provider"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(settings.WEBHOOKS_PROVIDERS)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.lookup: self.value()}).distinct()
        return queryset


class DeliveryProviderFilter(ProviderFilter):
    parameter_name = lookup = "request__fetches__provider"


@admin.register(CollectionRequest)
class CollectionRequestAdmin(ReadOnlyModelAdmin):
    list_display = ("short_id", "status", "providers", "callback_host", "created", "deadline")
    list_filter = ("status", ProviderFilter)
    search_fields = ("callback_host", "=id")
    search_help_text = "Callback host (part of it) or the exact request id."
    date_hierarchy = "created_at"
    inlines = [FetchInline, DeliveryInline, AttemptInline]

    @admin.display(description="request", ordering="id")
    def short_id(self, obj: CollectionRequest) -> SafeString:
        return _request_link(obj.pk)

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: CollectionRequest) -> str:
        return short_time(obj.created_at)

    @admin.display(description="deadline", ordering="deadline_at")
    def deadline(self, obj: CollectionRequest) -> str:
        return short_time(obj.deadline_at)


@admin.register(FailedDelivery)
class FailedDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ("message", "request_link", "callback_host", "attempts", "answer", "created")
    list_filter = (DeliveryProviderFilter, "created_at")
    search_fields = ("request__callback_host", "webhook_id", "=request__id")
    actions = ["retry_selected"]
    change_list_template = "admin/webhooks/faileddelivery/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(state="failed").select_related("request")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Delivery._meta.fields]

    @admin.display(description="webhook id", ordering="webhook_id")
    def message(self, delivery: Delivery) -> SafeString:
        # 36 characters in full (on the page, and found by the search): the start tells apart.
        return shortened(delivery.webhook_id, WEBHOOK_ID_SHOWN_CHARS)

    @admin.display(description="request", ordering="request_id")
    def request_link(self, delivery: Delivery) -> SafeString:
        return _request_link(delivery.request_id)

    @admin.display(description="callback host", ordering="request__callback_host")
    def callback_host(self, delivery: Delivery) -> SafeString:
        return shortened(delivery.request.callback_host, HOST_SHOWN_CHARS)

    @admin.display(description="last answer", ordering="last_status_code")
    def answer(self, delivery: Delivery) -> SafeString:
        answer = f"{delivery.last_status_code or 'no answer'} {delivery.last_response}".strip()
        return shortened(answer, ANSWER_SHOWN_CHARS)

    @admin.display(description="created at", ordering="created_at")
    def created(self, delivery: Delivery) -> str:
        return short_time(delivery.created_at)

    @admin.action(description="Retry the selected failed deliveries", permissions=["operate"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        retried = deliveries_retry(deliveries=queryset)
        self.message_user(request, _queued_message(retried), messages.SUCCESS)

    def get_urls(self):
        view = self.admin_site.admin_view(self.retry_matching_view)
        name = "webhooks_faileddelivery_retry_matching"
        return [path("retry-matching/", view, name=name), *super().get_urls()]

    def retry_matching_view(self, request: HttpRequest):
        """Retry every failed delivery the list's current filter shows, after a confirmation."""
        if not operate_allowed(request, self.opts):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        matching = changelist.get_queryset(request)
        back = reverse("admin:webhooks_faileddelivery_changelist") + changelist.get_query_string()
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            retried = deliveries_retry(deliveries=matching)
            self.message_user(request, _queued_message(retried), messages.SUCCESS)
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": "Retry every failed delivery matching this filter?",
            "count": matching.count(),
            "back": back,
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "admin/webhooks/faileddelivery/retry_matching.html", context
        )


@admin.register(ProviderBreaker)
class ProviderBreakerAdmin(ReadOnlyModelAdmin):
    list_display = ("provider", "state", "failures", "open_till", "probe_till", "updated")
    list_filter = ("state",)
    actions = ["reset"]

    @admin.display(description="failures in a row", ordering="consecutive_failures")
    def failures(self, obj: ProviderBreaker) -> int:
        return obj.consecutive_failures

    @admin.display(description="open until", ordering="open_until")
    def open_till(self, obj: ProviderBreaker) -> str:
        return short_time(obj.open_until)

    @admin.display(description="probe until", ordering="probe_until")
    def probe_till(self, obj: ProviderBreaker) -> str:
        return short_time(obj.probe_until)

    @admin.display(description="updated at", ordering="updated_at")
    def updated(self, obj: ProviderBreaker) -> str:
        return short_time(obj.updated_at)

    @admin.action(
        description="Close the selected breakers (resume calls now)", permissions=["operate"]
    )
    def reset(self, request: HttpRequest, queryset: QuerySet) -> None:
        closed = breakers_reset(breakers=queryset)
        self.message_user(request, f"Closed {counted(closed, 'breaker')}", messages.SUCCESS)


@admin.register(MockProvider)
class MockProviderAdmin(PlatformModelAdmin[MockProvider]):
    list_display = ("name", "failure_rate", "outage_until", "latency_ms", "updated_at")
    list_editable = ("failure_rate", "outage_until", "latency_ms")
