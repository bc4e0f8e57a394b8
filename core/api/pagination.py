"""Page-number pagination, the ``{count, next, previous, results}`` shape the compat lists use."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000
