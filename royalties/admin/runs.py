"""Runs in the admin: the list, the run page as a report, the upload form, re-run and CSV.

The list tells runs apart (inputs, revenue, top label, rejected rows, warnings, unattributed)
in one query for the page. The run page reads as the report (``run/change_form.html``): the
payout table, warnings, rejected rows with their lines, phase timings, inputs, and links only
to what the run stored. "New run" is the upload form (``royalties.services.run_submit``, the
same service and input rules as ``POST /api/royalties/runs``); re-run is
``royalties.services.run_rerun``. A succeeded run cannot be changed or deleted.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core.admin import PlatformModelAdmin
from core.errors import ApplicationError
from royalties import selectors
from royalties.admin.formatting import count, money
from royalties.admin.forms import RunUploadForm
from royalties.admin.report import input_names, run_report
from royalties.models import RevenueShare, Run
from royalties.services import run_rerun, run_submit

IMMUTABLE = "Run {run} succeeded: succeeded runs are immutable and cannot be deleted."


@admin.register(RevenueShare)
class RevenueShareAdmin(PlatformModelAdmin[RevenueShare]):
    list_display = ["origin", "share"]
    search_fields = ["origin"]


class RunChangeList(ChangeList):
    """The run list's page of runs, each with its payout digest (one query for the page), and
    without the rejected rows' lists (up to ROYALTIES_MAX_ERRORS_LISTED each)."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Run]:
        runs = super().get_queryset(request, exclude_parameters)
        return runs.defer("errors", "checksums", "timings")

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        digests = selectors.payout_digests(runs=self.result_list)
        for run in self.result_list:
            run.payout = digests.get(run.pk)


@admin.register(Run)
class RunAdmin(PlatformModelAdmin[Run]):
    list_display = [
        "id",
        "created",
        "status",
        "inputs",
        "revenue_f",
        "digest",
        "top_label",
        "rejected_warnings",
        "unattributed",
    ]
    list_display_links = ["id", "created"]
    list_filter = ["status", "created_at"]
    search_fields = ["error", "streams_path", "users_path", "tracks_path", "tracks_url"]
    actions = ["rerun", "export_csv"]
    fields = ["status"]  # the page is run/change_form.html's report, not fields
    change_form_template = "admin/royalties/run/change_form.html"
    change_list_template = "admin/royalties/run/change_list.html"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RunChangeList

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change page is the run's read-only report; actions need the view permission only.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Failed runs can be cleaned up; a succeeded run is an immutable report.
        if obj is not None and obj.status == Run.Status.SUCCEEDED:
            return False
        return request.user.has_perm("royalties.delete_run")

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        run = self.get_object(request, unquote(object_id))
        if run is not None and run.status == Run.Status.SUCCEEDED:
            self.message_user(request, IMMUTABLE.format(run=run.pk), level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:royalties_run_change", args=[run.pk]))
        return super().delete_view(request, object_id, extra_context)

    # --- the list ---------------------------------------------------------------------------

    @admin.display(description="created", ordering="created_at")
    def created(self, run: Run) -> str:
        return f"{timezone.localtime(run.created_at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="inputs")
    def inputs(self, run: Run) -> str:
        return format_html_join(mark_safe("<br>"), "{}", ((name,) for name in input_names(run)))

    @admin.display(description="revenue €", ordering="revenue")
    def revenue_f(self, run: Run) -> str:
        return money(run.revenue)

    @admin.display(description="digest")
    def digest(self, run: Run) -> str:
        payout = getattr(run, "payout", None)
        return format_html("<code>{}</code>", payout.digest) if payout else "-"

    @admin.display(description="top label €")
    def top_label(self, run: Run) -> str:
        payout = getattr(run, "payout", None)
        if payout is None:
            return "-"
        return f"{payout.top_label}: {money(payout.top_amount)} (of {count(payout.labels)})"

    @admin.display(description="rejected rows / warnings")
    def rejected_warnings(self, run: Run) -> str:
        return f"{count((run.rows or {}).get('rejected'))} / {count(len(run.warnings))}"

    @admin.display(description="unattributed €", ordering="unattributed_amount")
    def unattributed(self, run: Run) -> str:
        return money(run.unattributed_amount)

    # --- the run page -----------------------------------------------------------------------

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Run | None = None,
    ) -> Any:
        if obj is not None:
            context.update(run_report(obj))
            context["can_rerun"] = obj.status in (Run.Status.SUCCEEDED, Run.Status.FAILED)
        return super().render_change_form(request, context, add, change, form_url, obj)

    add_view_title = "New consolidation run"
    not_pages = ("royalties_run_rerun", "royalties_run_csv")  # a POST action, a download

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:run_pk>/rerun/", wrap(self.rerun_view), name="royalties_run_rerun"),
            path("<int:run_pk>/report.csv", wrap(self.csv_view), name="royalties_run_csv"),
            *super().get_urls(),
        ]

    # --- starting runs ----------------------------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        """The upload form: files in, a queued run out (or the form again, saying what is
        wrong, with nothing stored)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RunUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            run = self._submit(request, form)
            if run is not None:
                return HttpResponseRedirect(reverse("admin:royalties_run_change", args=[run.pk]))
        if form.errors:
            self.message_user(request, "The run was not started: see below.", messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": self.add_view_title,
            "form": form,
        }
        return TemplateResponse(request, "admin/royalties/run/upload.html", context)

    def _submit(self, request: HttpRequest, form: RunUploadForm) -> Run | None:
        data = form.cleaned_data
        try:
            run = run_submit(
                streams=data["streams"],
                users=data["users"],
                tracks=data.get("tracks"),
                tracks_url=data.get("tracks_url", ""),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.detail)
            return None
        names = ", ".join(input_names(run))
        self.message_user(request, f"Run {run.pk} queued ({names}); the worker consolidates it.")
        return run

    def _rerun(self, request: HttpRequest, run: Run) -> Run | None:
        try:
            new_run = run_rerun(run=run)
        except ApplicationError as exc:
            self.message_user(request, exc.detail, level=messages.ERROR)
            return None
        self.message_user(request, f"Run {new_run.pk} queued (re-run of run {run.pk}).")
        return new_run

    @admin.action(description="Re-run with the same inputs", permissions=["add"])
    def rerun(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        for run in queryset:
            self._rerun(request, run)

    def rerun_view(self, request: HttpRequest, run_pk: int) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        return require_POST(self._rerun_post)(request, run_pk)

    def _rerun_post(self, request: HttpRequest, run_pk: int) -> HttpResponse:
        run = get_object_or_404(Run, pk=run_pk)
        new_run = self._rerun(request, run)
        target = new_run or run
        return HttpResponseRedirect(reverse("admin:royalties_run_change", args=[target.pk]))

    # --- the payout table as CSV ------------------------------------------------------------

    @admin.action(description="Export the payout table (CSV)")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Run]) -> HttpResponse | None:
        runs = list(queryset[:2])
        if len(runs) != 1 or runs[0].status != Run.Status.SUCCEEDED:
            self.message_user(
                request, "Select exactly one succeeded run to export.", level=messages.ERROR
            )
            return None
        return _csv_response(runs[0])

    def csv_view(self, request: HttpRequest, run_pk: int) -> HttpResponse:
        run = get_object_or_404(Run, pk=run_pk)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        if run.status != Run.Status.SUCCEEDED:
            message = f"Run {run.pk} is {run.status}; only a succeeded run has a payout table."
            self.message_user(request, message, level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:royalties_run_change", args=[run.pk]))
        return _csv_response(run)


def _csv_response(run: Run) -> HttpResponse:
    response = HttpResponse(selectors.report_csv(run=run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="royalties-run-{run.pk}.csv"'
    return response
