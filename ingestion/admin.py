"""Admin pages of the ingestion domain: revenue per user, the event log, batches."""

from typing import TypedDict

from django.contrib import admin, messages
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest
from django_stubs_ext import WithAnnotations

from core.admin import ReadOnlyModelAdmin
from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import watermark_expression
from ingestion.services import revenue_rebuild


class Processed(TypedDict):
    """The annotation of the event list: at or below the watermark."""

    processed: bool


def _reprocess(modeladmin: admin.ModelAdmin, request: HttpRequest, user_ids: list[str]) -> None:
    repaired = revenue_rebuild(user_ids=sorted(set(user_ids)))
    if repaired:
        changes = "; ".join(f"{d.user_id}: {d.stored} → {d.from_log}" for d in repaired)
        modeladmin.message_user(request, f"Recomputed from the log: {changes}", messages.WARNING)
    else:
        modeladmin.message_user(
            request, f"{len(set(user_ids))} users checked: totals already match the log."
        )


@admin.register(UserRevenue)
class UserRevenueAdmin(admin.ModelAdmin):
    list_display = ("user_id", "revenue", "updated_at")
    search_fields = ("user_id",)
    readonly_fields = ("user_id", "revenue", "updated_at")
    actions = ("reprocess_from_log",)

    @admin.action(description="Re-process selected users from the event log")
    def reprocess_from_log(self, request: HttpRequest, queryset: QuerySet) -> None:
        _reprocess(self, request, list(queryset.values_list("user_id", flat=True)))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


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
    list_display = ("id", "user_id", "name", "value", "received_at", "processed", "idempotency_key")
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

    @admin.action(description="Re-process the users of the selected events from the log")
    def reprocess_users(self, request: HttpRequest, queryset: QuerySet) -> None:
        _reprocess(self, request, list(queryset.values_list("user_id", flat=True)))


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "first_id", "last_id", "size", "users", "out_of_range")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    readonly_fields = ("created_at", "first_id", "last_id", "size", "users", "out_of_range")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
