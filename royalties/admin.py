"""Admin pages of the royalties domain.

Runs (status, totals, checksums, warnings, rejected rows; action: re-run with the same inputs),
and per run: labels with their payout → their tracks → each track's listeners (its entries),
subscribers with their seconds and contribution. Everything a run produced is read-only: a
succeeded run is immutable. Revenue shares per origin are editable configuration.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from core.errors import ApplicationError
from royalties.models import Entry, Label, RevenueShare, Run, Subscriber, Track, run_id_range
from royalties.services import run_rerun

IMMUTABLE = "Run {run} succeeded: succeeded runs are immutable and cannot be deleted."


def _changelist(model, **filters) -> str:
    url = reverse(f"admin:royalties_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(RevenueShare)
class RevenueShareAdmin(admin.ModelAdmin):
    list_display = ["origin", "share"]
    search_fields = ["origin"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "status",
        "created_at",
        "finished_at",
        "revenue",
        "total_seconds",
        "rows_loaded",
        "rows_rejected",
        "warning_count",
        "unattributed_amount",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["error", "streams_path", "tracks_url"]
    actions = ["rerun"]
    fields = [
        "status",
        "error",
        ("created_at", "started_at", "finished_at"),
        "rerun_of",
        "inputs",
        "checksums_display",
        "rows",
        ("revenue", "total_seconds"),
        ("unattributed_seconds", "unattributed_streams", "unattributed_amount"),
        "warnings_display",
        "errors_display",
        "timings",
        "drill_down",
    ]
    readonly_fields = [
        "status",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "rerun_of",
        "inputs",
        "checksums_display",
        "rows",
        "revenue",
        "total_seconds",
        "unattributed_seconds",
        "unattributed_streams",
        "unattributed_amount",
        "warnings_display",
        "errors_display",
        "timings",
        "drill_down",
    ]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # The change page is the run's read-only detail; actions need the view permission only.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Failed runs can be cleaned up; a succeeded run is an immutable report.
        if obj is not None and obj.status == Run.Status.SUCCEEDED:
            return False
        return request.user.has_perm("royalties.delete_run")

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None):
        run = self.get_object(request, unquote(object_id))
        if run is not None and run.status == Run.Status.SUCCEEDED:
            self.message_user(request, IMMUTABLE.format(run=run.pk), level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:royalties_run_change", args=[run.pk]))
        return super().delete_view(request, object_id, extra_context)

    @admin.display(description="loaded")
    def rows_loaded(self, run: Run):
        return (run.rows or {}).get("loaded")

    @admin.display(description="rejected")
    def rows_rejected(self, run: Run):
        return (run.rows or {}).get("rejected")

    @admin.display(description="warnings")
    def warning_count(self, run: Run) -> int:
        return len(run.warnings)

    @admin.display(description="inputs")
    def inputs(self, run: Run) -> str:
        rows = [("streams", run.streams_path), ("users", run.users_path)]
        rows.append(("tracks", run.tracks_url or run.tracks_path))
        if run.tracks_url and run.tracks_path:
            rows.append(("tracks snapshot", run.tracks_path))
        return format_html_join("", "<div><b>{}</b>: {}</div>", rows)

    @admin.display(description="sha256 of the inputs")
    def checksums_display(self, run: Run) -> str:
        return format_html_join(
            "", "<div><b>{}</b>: <code>{}</code></div>", sorted(run.checksums.items())
        )

    @admin.display(description="warnings")
    def warnings_display(self, run: Run) -> str:
        return format_html_join("", "<div>{}</div>", ((w,) for w in run.warnings)) or "-"

    @admin.display(description="rejected rows")
    def errors_display(self, run: Run) -> str:
        if not run.errors:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(run.errors, indent=1))

    @admin.display(description="drill down")
    def drill_down(self, run: Run) -> str:
        links = [
            (_changelist(Label, run__id__exact=run.pk), "labels"),
            (_changelist(Track, run__id__exact=run.pk), "tracks"),
            (_changelist(Subscriber, run__id__exact=run.pk), "subscribers"),
            (_changelist(Entry, run=run.pk), "entries"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.action(description="Re-run with the same inputs")
    def rerun(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        for run in queryset:
            try:
                new_run = run_rerun(run=run)
            except ApplicationError as exc:
                self.message_user(request, exc.detail, level=messages.ERROR)
                continue
            self.message_user(request, f"Run {new_run.pk} queued (re-run of run {run.pk}).")


@admin.register(Label)
class LabelAdmin(ReadOnlyAdmin):
    list_display = ["name", "run", "tracks_link", "streams", "seconds", "share", "amount"]
    list_filter = ["run"]
    search_fields = ["name"]
    list_select_related = ["run"]

    @admin.display(description="tracks", ordering="tracks")
    def tracks_link(self, label: Label) -> str:
        url = _changelist(Track, run__id__exact=label.run_id, label=label.name)
        return format_html('<a href="{}">{}</a>', url, label.tracks)


@admin.register(Track)
class TrackAdmin(ReadOnlyAdmin):
    list_display = ["name", "label", "track_id", "run", "streams", "seconds", "listeners_link"]
    list_filter = ["run"]
    search_fields = ["name", "label", "track_id"]
    list_select_related = ["run"]

    @admin.display(description="listeners")
    def listeners_link(self, track: Track) -> str:
        url = _changelist(Entry, run=track.run_id, track_id=track.track_id)
        return format_html('<a href="{}">streams by user</a>', url)


@admin.register(Subscriber)
class SubscriberAdmin(ReadOnlyAdmin):
    list_display = [
        "user_id",
        "run",
        "subscribed",
        "product_type",
        "fee",
        "origin",
        "contribution",
        "streams",
        "seconds",
    ]
    list_filter = ["subscribed", "origin", "product_type", "run"]
    search_fields = ["user_id"]
    list_select_related = ["run"]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    """A run's streaming log; ``?run=<id>`` (the drill-down links, with ``&track_id=``) selects
    one run's rows through the primary-key range."""

    list_display = ["line", "date", "user_id", "region", "track_id", "seconds", "run_id"]
    list_filter = ["region"]
    search_fields = ["=user_id", "=track_id"]
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entry]:
        queryset = super().get_queryset(request)
        run = request.GET.get("run", "")
        if run.isdigit():
            # The changelist also filters run_id (unindexed); the id range makes it cheap.
            first, end = run_id_range(int(run))
            queryset = queryset.filter(id__gte=first, id__lt=end)
        return queryset
