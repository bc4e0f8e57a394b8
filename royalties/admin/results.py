"""What a run stored, one run at a time: labels → tracks → listeners, subscribers, entries.

Every list has a ``run`` filter that defaults to the latest succeeded run (the one the reports
serve), so rows of different runs never mix; labels, tracks and subscribers show the run's
totals above the list. A track's listeners are totals per user (streams, seconds).
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from core.admin import ReadOnlyModelAdmin
from royalties import selectors
from royalties.admin.formatting import count, money, money_exact, percent
from royalties.models import Entry, Label, Run, Subscriber, Track, run_id_range


def changelist_url(model: Any, **params: Any) -> str:
    url = reverse(f"admin:royalties_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


class RunFilter(admin.SimpleListFilter):
    """One run's rows: the chosen run, or the latest succeeded run when none is chosen (no
    "All": rows of different runs are not comparable)."""

    title = "run"
    parameter_name = "run"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        runs = selectors.runs_with_results()
        self.latest = str(runs[0][0]) if runs else None
        return [
            (str(pk), f"run {pk} · {finished:%Y-%m-%d %H:%M}" if finished else f"run {pk}")
            for pk, finished in runs
        ]

    def value(self) -> str | None:
        return super().value() or self.latest

    def choices(self, changelist: ChangeList) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        run = self.value()
        if run is None:
            return queryset.none()  # no run has succeeded yet
        if not run.isdigit():
            raise IncorrectLookupParameters(f"run must be a run's id, not {run!r}")
        if queryset.model is Entry:
            # The primary-key range of the run: run_id has no index (docs/decisions/0011).
            first, end = run_id_range(int(run))
            return queryset.filter(id__gte=first, id__lt=end)
        return queryset.filter(run_id=int(run))


class RunResultAdmin(ReadOnlyModelAdmin):
    """Read-only: no add, change or delete, so no save buttons and no "Delete selected"."""

    change_list_template = "admin/royalties/run_results_change_list.html"
    # Aggregates shown above the list: {name: (label, Sum/Count expression, formatter)}.
    totals: dict[str, tuple[str, Any, Any]] = {}
    # Figures of the run itself shown after those: (label, Run field, formatter).
    run_totals: list[tuple[str, str, Any]] = []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context.update(self._totals_context(context["cl"]))
        return response

    def _totals_context(self, cl: ChangeList) -> dict[str, Any]:
        run = next((spec.value() for spec in cl.filter_specs if isinstance(spec, RunFilter)), None)
        context: dict[str, Any] = {"shown_run": run}
        if run and self.totals:
            sums = cl.queryset.order_by().aggregate(
                **{name: expr for name, (_, expr, _) in self.totals.items()}
            )
            context["totals"] = [
                (title, fmt(sums[name])) for name, (title, _, fmt) in self.totals.items()
            ]
        if run and self.run_totals:
            fields = [field for _, field, _ in self.run_totals]
            values = Run.objects.filter(pk=int(run)).values(*fields).first() or {}
            context["totals"] += [
                (title, fmt(values.get(field))) for title, field, fmt in self.run_totals
            ]
        return context


@admin.register(Label)
class LabelAdmin(RunResultAdmin):
    list_display = ["name", "tracks_link", "streams_f", "seconds_f", "share_f", "amount_f"]
    list_filter = [RunFilter]
    search_fields = ["name"]
    ordering = ["name"]
    totals = {
        "labels": ("labels", Count("pk"), count),
        "streams": ("streams", Sum("streams"), count),
        "seconds": ("seconds", Sum("seconds"), count),
        "amount": ("amount (€)", Sum("amount"), money),
    }
    run_totals = [
        ("unattributed (€)", "unattributed_amount", money),
        ("revenue (€)", "revenue", money),
    ]

    @admin.display(description="tracks", ordering="tracks")
    def tracks_link(self, label: Label) -> str:
        url = changelist_url(Track, run=label.run_id, label=label.name)
        return format_html('<a href="{}">{}</a>', url, count(label.tracks))

    @admin.display(description="streams", ordering="streams")
    def streams_f(self, label: Label) -> str:
        return count(label.streams)

    @admin.display(description="seconds", ordering="seconds")
    def seconds_f(self, label: Label) -> str:
        return count(label.seconds)

    @admin.display(description="share", ordering="share")
    def share_f(self, label: Label) -> str:
        return percent(label.share)

    @admin.display(description="amount (€)", ordering="amount")
    def amount_f(self, label: Label) -> str:
        return money(label.amount)


@admin.register(Track)
class TrackAdmin(RunResultAdmin):
    list_display = ["name", "label", "track_id", "streams_f", "seconds_f", "listeners_link"]
    list_filter = [RunFilter]
    search_fields = ["name", "label", "=track_id"]
    ordering = ["label", "name"]
    totals = {
        "tracks": ("tracks", Count("pk"), count),
        "streams": ("streams", Sum("streams"), count),
        "seconds": ("seconds", Sum("seconds"), count),
    }

    @admin.display(description="streams", ordering="streams")
    def streams_f(self, track: Track) -> str:
        return count(track.streams)

    @admin.display(description="seconds", ordering="seconds")
    def seconds_f(self, track: Track) -> str:
        return count(track.seconds)

    @admin.display(description="listeners")
    def listeners_link(self, track: Track) -> str:
        if not track.streams:
            return "-"
        url = reverse("admin:royalties_track_listeners", args=[track.pk])
        return format_html('<a href="{}">streams by user</a>', url)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.listeners_view)
        listeners = path("<int:track_pk>/listeners/", view, name="royalties_track_listeners")
        return [listeners, *super().get_urls()]

    def listeners_view(self, request: HttpRequest, track_pk: int) -> HttpResponse:
        track = get_object_or_404(Track, pk=track_pk)
        if not self.has_view_permission(request, track):
            raise PermissionDenied
        listeners = selectors.track_listeners(run_id=track.run_id, track_id=track.track_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{track.name} ({track.label}): streams by user, run {track.run_id}",
            "track": track,
            "rows": [(x.user_id, count(x.streams), count(x.seconds)) for x in listeners],
            "tracks_url": changelist_url(Track, run=track.run_id, label=track.label),
        }
        return TemplateResponse(request, "admin/royalties/track/listeners.html", context)


@admin.register(Subscriber)
class SubscriberAdmin(RunResultAdmin):
    list_display = [
        "user_id",
        "subscribed",
        "product_type",
        "fee_f",
        "origin",
        "contribution_f",
        "streams_f",
        "seconds_f",
    ]
    list_filter = [RunFilter, "subscribed", "origin", "product_type"]
    search_fields = ["=user_id"]
    ordering = ["user_id"]
    totals = {
        "users": ("users", Count("pk"), count),
        "contribution": ("revenue (€)", Sum("contribution"), money),
        "streams": ("streams", Sum("streams"), count),
        "seconds": ("seconds", Sum("seconds"), count),
    }

    @admin.display(description="fee (€)", ordering="fee")
    def fee_f(self, subscriber: Subscriber) -> str:
        return money_exact(subscriber.fee)

    @admin.display(description="contribution (€)", ordering="contribution")
    def contribution_f(self, subscriber: Subscriber) -> str:
        return money_exact(subscriber.contribution)

    @admin.display(description="streams", ordering="streams")
    def streams_f(self, subscriber: Subscriber) -> str:
        return count(subscriber.streams)

    @admin.display(description="seconds", ordering="seconds")
    def seconds_f(self, subscriber: Subscriber) -> str:
        return count(subscriber.seconds)


@admin.register(Entry)
class EntryAdmin(RunResultAdmin):
    """A run's streaming log, selected through the primary-key range of the run."""

    list_display = ["line_f", "date", "user_id", "region", "track_id", "seconds_f"]
    list_filter = [RunFilter, "region"]
    search_fields = ["=user_id", "=track_id"]
    ordering = ["id"]
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="line", ordering="id")
    def line_f(self, entry: Entry) -> str:
        return count(entry.line)

    @admin.display(description="seconds", ordering="seconds")
    def seconds_f(self, entry: Entry) -> str:
        return count(entry.seconds)
