"""Admin pages of the ingestion domain: revenue per user, the event log, batches.

All three are written only by the services: shown and filtered here, never edited; the one
action re-computes users' totals from the log through the service.
"""

from typing import TypedDict

from django.contrib import admin, messages
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django_stubs_ext import WithAnnotations

from core.admin import ReadOnlyModelAdmin, counted, short_time, shortened
from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import watermark_expression
from ingestion.services import revenue_rebuild

REPAIRS_LISTED_MAX = 20


class Processed(TypedDict):
    """The annotation of the event list: at or below the watermark."""

    processed: bool


def _reprocess(modeladmin: admin.ModelAdmin, request: HttpRequest, user_ids: list[str]) -> None:
    users = sorted(set(user_ids))
    repaired = revenue_rebuild(user_ids=users)
    checked = f"Checked {counted(len(users), 'user')}"
    if repaired:
        # The first few by name: the message lives in the operator's session and on the page.
        shown = repaired[:REPAIRS_LISTED_MAX]
        changes = "; ".join(f"{d.user_id}: {d.stored} → {d.from_log}" for d in shown)
        if len(repaired) > len(shown):
            changes += f"; and {len(repaired) - len(shown):,} more"
        recomputed = f"recomputed {counted(len(repaired), 'total')} from the log"
        modeladmin.message_user(request, f"{checked}: {recomputed} ({changes})", messages.WARNING)
    else:
        modeladmin.message_user(request, f"{checked}: every total already matches the log")


@admin.register(UserRevenue)
class UserRevenueAdmin(ReadOnlyModelAdmin):
    list_display = ("user", "revenue", "updated")
    search_fields = ("user_id",)
    actions = ("reprocess_from_log",)

    @admin.display(description="user id", ordering="user_id")
    def user(self, obj: UserRevenue) -> SafeString:
        return shortened(obj.user_id)

    @admin.display(description="updated at", ordering="updated_at")
    def updated(self, obj: UserRevenue) -> str:
        return short_time(obj.updated_at)

    @admin.action(
        description="Re-process selected users from the event log", permissions=["operate"]
    )
    def reprocess_from_log(self, request: HttpRequest, queryset: QuerySet) -> None:
        _reprocess(self, request, list(queryset.values_list("user_id", flat=True)))


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
    list_display = ("id", "user", "name", "value", "received", "processed", "key")
    list_filter = (
        ProcessedFilter,
        "name",
        "out_of_range",
        ("received_at", admin.DateFieldListFilter),
    )
    search_fields = ("=user_id", "=idempotency_key")
    show_full_result_count = False
    actions = ("reprocess_users",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        processed = ExpressionWrapper(Q(id__lte=watermark_expression()), BooleanField())
        return super().get_queryset(request).annotate(processed=processed)

    @admin.display(boolean=True, ordering="id", description="processed")
    def processed(self, obj: "WithAnnotations[Event, Processed]") -> bool:
        return obj.processed

    @admin.display(description="user id", ordering="user_id")
    def user(self, obj: Event) -> SafeString:
        return shortened(obj.user_id)

    @admin.display(description="received at", ordering="received_at")
    def received(self, obj: Event) -> str:
        return short_time(obj.received_at)

    @admin.display(description="idempotency key", ordering="idempotency_key")
    def key(self, obj: Event) -> SafeString:
        return shortened(obj.idempotency_key)

    @admin.action(
        description="Re-process the users of the selected events from the log",
        permissions=["operate"],
    )
    def reprocess_users(self, request: HttpRequest, queryset: QuerySet) -> None:
        _reprocess(self, request, list(queryset.values_list("user_id", flat=True)))


@admin.register(Batch)
class BatchAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "created", "first_id", "last_id", "size", "users", "out_of_range")
    list_filter = (("created_at", admin.DateFieldListFilter),)

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: Batch) -> str:
        return short_time(obj.created_at)
