"""Page-number pagination, the ``{count, next, previous, results}`` shape the compat lists use."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import pagination, serializers


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter(
        "page_size",
        int,
        description=f"Items per page, at most {PageNumberPagination.max_page_size}.",
    ),
]


def paginated(
    serializer_class: type[serializers.Serializer[Any]],
) -> serializers.Serializer[Any]:
    """The schema of a page of ``serializer_class`` items, for views that paginate by hand."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        f"Paginated{name}List",
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )
