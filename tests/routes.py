"""The routes of the URL conf, read from ``get_resolver()``, for tests that cover every route."""

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from core.views import NOT_FOUND_URL_NAME

# HTML pages for people (the admin, the docs UIs): not API answers.
HTML_PREFIXES = ("admin/", "api/docs/", "api/redoc/")
ARGUMENT = {"int": "987654", "uuid": str(uuid.UUID(int=12345)), "str": "guard", "slug": "guard"}
METHODS = ("get", "post", "put", "patch", "delete")


def _routes(resolver: URLResolver, prefix: str = "") -> list[tuple[str, Callable[..., Any]]]:
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.extend(_routes(entry, route))
        elif isinstance(entry, URLPattern) and entry.name != NOT_FOUND_URL_NAME:
            found.append((route, entry.callback))
    return found


def api_routes() -> list[tuple[str, Callable[..., Any]]]:
    """Every route but the HTML pages and the catch-all 404."""
    routes = [(r, cb) for r, cb in _routes(get_resolver()) if not r.startswith(HTML_PREFIXES)]
    # Only plain `path()` routes (`<converter:name>`): a regex route would need its own example.
    assert all("^" not in route for route, _ in routes), routes
    return routes


def url_for(route: str, arguments: dict[str, str]) -> str:
    """The route's URL, each argument from ``arguments`` by converter, else an example."""

    def substitute(match: re.Match[str]) -> str:
        converter = match.group(1) or "str"
        return arguments.get(converter, ARGUMENT.get(converter, "guard"))

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", substitute, route)


def view_class(callback: Callable[..., Any]) -> Any:
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def view_methods(callback: Callable[..., Any]) -> list[str]:
    """The HTTP methods the route's view answers (lower case, HEAD and OPTIONS left out)."""
    view = view_class(callback)
    return [m for m in METHODS if view is not None and hasattr(view, m)]
