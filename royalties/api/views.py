"""Views of the royalties API: operator endpoints under /api/royalties/ and the compat paths."""

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import PAGE_PARAMETERS, PageNumberPagination, paginated
from core.api.renderers import JSONRenderer, json_dumps
from core.api.serializers import ErrorOutputSerializer, output_data
from core.api.views import OpenView
from royalties import selectors, services
from royalties.api.serializers import (
    CompatEntryOutputSerializer,
    CompatRevenueOutputSerializer,
    CompatUserOutputSerializer,
    ReportOutputSerializer,
    RunInputSerializer,
    RunOutputSerializer,
    RunSubmittedOutputSerializer,
    UserOutputSerializer,
)
from royalties.models import Run

TAGS = ["royalties"]
COMPAT_TAGS = ["royalties compat"]

RUN_PARAMETER = OpenApiParameter(
    "run", int, description="A succeeded run's id (default: the latest succeeded run)."
)
ERRORS = {
    401: OpenApiResponse(ErrorOutputSerializer, "No or invalid credentials."),
    403: OpenApiResponse(ErrorOutputSerializer, "Missing the model permission."),
}
NOT_FOUND = OpenApiResponse(ErrorOutputSerializer, "No such run or user, or no run yet.")
NOT_SUCCEEDED = OpenApiResponse(ErrorOutputSerializer, "The given run has not succeeded.")
BAD_RUN = OpenApiResponse(OpenApiTypes.OBJECT, "`run` is not an integer.")
NO_RUN_YET = OpenApiResponse(ErrorOutputSerializer, "No run has succeeded yet, or unknown user.")
NO_RUN_YET_OR_PAGE = OpenApiResponse(
    ErrorOutputSerializer, "No run has succeeded yet, or no such page."
)
NO_PAGE = OpenApiResponse(ErrorOutputSerializer, "No such page.")


class _RunParamSerializer(serializers.Serializer):
    run = serializers.IntegerField(required=False, min_value=1)


def _requested_run(request: Request) -> Run:
    params = _RunParamSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return selectors.run_reported(run_id=params.validated_data.get("run"))


def _report_body(run: Run) -> dict:
    report = selectors.report_get(run=run)
    return {
        "run": run.pk,
        "revenue": run.revenue,
        "total_seconds": run.total_seconds,
        "labels": report.labels,
        "unattributed": {
            "seconds": run.unattributed_seconds,
            "streams": run.unattributed_streams,
            "amount": run.unattributed_amount,
        },
        "rows": run.rows,
        "warnings": run.warnings,
    }


class RunListCreateView(APIView):
    parser_classes = [MultiPartParser]
    required_permissions = {"GET": ["royalties.view_run"], "POST": ["royalties.add_run"]}

    @extend_schema(
        operation_id="royalties_runs_list",
        tags=TAGS,
        summary="Consolidation runs, newest first",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(RunOutputSerializer), 404: NO_PAGE, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.run_list(), request, view=self)
        data = RunOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="royalties_runs_create",
        tags=TAGS,
        summary="Start a consolidation run (the worker does the work)",
        request={"multipart/form-data": RunInputSerializer},
        responses={
            202: RunSubmittedOutputSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, "Missing or conflicting input files."),
            415: OpenApiResponse(ErrorOutputSerializer, "Not multipart/form-data."),
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = RunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = services.run_submit(
            streams=data["streams"],
            users=data["users"],
            tracks=data.get("tracks"),
            tracks_url=data.get("tracks_url", ""),
        )
        url = request.build_absolute_uri(reverse("royalties-run-detail", args=[run.pk]))
        report_url = request.build_absolute_uri(reverse("royalties-report")) + f"?run={run.pk}"
        body = {"id": run.pk, "status": run.status, "url": url, "report_url": report_url}
        return Response(body, status=202, headers={"Location": url})


class RunDetailView(APIView):
    required_permissions = {"GET": ["royalties.view_run"]}

    @extend_schema(
        operation_id="royalties_runs_retrieve",
        tags=TAGS,
        summary="One consolidation run: status, checksums, rows, warnings, errors",
        responses={200: RunOutputSerializer, 404: NOT_FOUND, **ERRORS},
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(run_id=run_id)
        return Response(RunOutputSerializer(run, context={"request": request}).data)


class ReportView(APIView):
    required_permissions = {"GET": ["royalties.view_run"]}

    @extend_schema(
        operation_id="royalties_report",
        tags=TAGS,
        summary="Payout per label of the latest succeeded run (or of `?run=`)",
        parameters=[RUN_PARAMETER],
        responses={
            200: ReportOutputSerializer,
            400: BAD_RUN,
            404: NOT_FOUND,
            409: NOT_SUCCEEDED,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        run = _requested_run(request)
        return Response(ReportOutputSerializer(_report_body(run)).data)


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        # Only errors reach the renderer (the report itself is an HttpResponse): keep them JSON.
        return json_dumps(data)


class ReportCsvView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]
    required_permissions = {"GET": ["royalties.view_run"]}

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON, declared as such, whatever the client's Accept header asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="royalties_report_csv",
        tags=TAGS,
        summary="The report as CSV, for accounting",
        parameters=[RUN_PARAMETER],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (400, "application/json"): BAD_RUN,
            (404, "application/json"): NOT_FOUND,
            (409, "application/json"): NOT_SUCCEEDED,
            (401, "application/json"): ERRORS[401],
            (403, "application/json"): ERRORS[403],
        },
    )
    def get(self, request: Request) -> HttpResponse:
        run = _requested_run(request)
        response = HttpResponse(
            selectors.report_csv(run=run), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="royalties-run-{run.pk}.csv"'
        return response


class UserView(APIView):
    required_permissions = {"GET": ["royalties.view_run"]}

    @extend_schema(
        operation_id="royalties_user",
        tags=TAGS,
        summary="Seconds streamed by one user in the latest succeeded run (or `?run=`)",
        parameters=[RUN_PARAMETER],
        responses={
            200: UserOutputSerializer,
            400: BAD_RUN,
            404: NOT_FOUND,
            409: NOT_SUCCEEDED,
            **ERRORS,
        },
    )
    def get(self, request: Request, user_id: str) -> Response:
        run = _requested_run(request)
        subscriber = selectors.subscriber_get(run=run, user_id=user_id)
        body = {"user_id": subscriber.user_id, "seconds": subscriber.seconds, "run": run.pk}
        return Response(UserOutputSerializer(body).data)


# --- Compat: the original service's open, read-only endpoints ------------------------------


class _CompatView(OpenView):
    renderer_classes = [JSONRenderer]


class CompatReportView(_CompatView):
    @extend_schema(
        operation_id="compat_report",
        tags=COMPAT_TAGS,
        summary="Amount per label (JSON numbers) of the latest succeeded run",
        responses={
            200: OpenApiResponse(
                {"type": "object", "additionalProperties": {"type": "number"}},
                'Label name → amount, e.g. {"label 1": 72.73, "label 2": 32.9}.',
            ),
            404: NO_RUN_YET,
        },
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.label_amounts_latest())


class CompatRevenueView(_CompatView):
    @extend_schema(
        operation_id="compat_revenue",
        tags=COMPAT_TAGS,
        summary="Revenue of the latest succeeded run",
        responses={200: CompatRevenueOutputSerializer, 404: NO_RUN_YET},
    )
    def get(self, request: Request) -> Response:
        run = selectors.run_latest_succeeded(totals_only=True)
        if run.revenue is None:  # run_execute stores it with the status succeeded
            raise RuntimeError(f"{run} succeeded with no revenue")
        return Response({"revenue": float(run.revenue)})


class CompatUserListView(_CompatView):
    @extend_schema(
        operation_id="compat_users_list",
        tags=COMPAT_TAGS,
        summary="Seconds streamed per user, paginated",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(CompatUserOutputSerializer), 404: NO_RUN_YET_OR_PAGE},
    )
    def get(self, request: Request) -> Response:
        run = selectors.run_latest_succeeded(totals_only=True)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.subscriber_list(run=run), request, view=self)
        return paginator.get_paginated_response(CompatUserOutputSerializer(page, many=True).data)


class CompatUserView(_CompatView):
    @extend_schema(
        operation_id="compat_user",
        tags=COMPAT_TAGS,
        summary="Seconds streamed by one user",
        responses={200: CompatUserOutputSerializer, 404: NO_RUN_YET},
    )
    def get(self, request: Request, user_id: str) -> Response:
        found_user_id, seconds = selectors.subscriber_latest_seconds(user_id=user_id)
        subscriber = {"user_id": found_user_id, "seconds": seconds}
        return Response(output_data(CompatUserOutputSerializer, subscriber))


class CompatConsolidatedView(_CompatView):
    @extend_schema(
        operation_id="compat_consolidated",
        tags=COMPAT_TAGS,
        summary="Consolidated entries of the latest succeeded run, paginated",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(CompatEntryOutputSerializer), 404: NO_RUN_YET_OR_PAGE},
    )
    def get(self, request: Request) -> Response:
        run = selectors.run_latest_succeeded(totals_only=True)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.entry_list(run=run), request, view=self)
        if page is None:  # only without a page size, which the settings always give
            raise ImproperlyConfigured("The compat lists need REST_FRAMEWORK['PAGE_SIZE'].")
        rows = selectors.entries_consolidated(run=run, entries=page)
        return paginator.get_paginated_response(CompatEntryOutputSerializer(rows, many=True).data)
