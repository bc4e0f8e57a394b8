"""The platform's URL table as a whole: unknown paths, docs pages, and the OpenAPI schema."""

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from core.views import NOT_FOUND_URL_NAME

pytestmark = pytest.mark.django_db


def test_unknown_url_is_json_404(api_client):
    response = api_client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def _url_paths(resolver: URLResolver, prefix: str = "") -> list[str]:
    paths = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths.extend(_url_paths(entry, route))
        elif isinstance(entry, URLPattern) and entry.name != NOT_FOUND_URL_NAME:
            paths.append(route)
    return paths


def test_schema_lists_every_api_and_compat_url():
    documented = set(SchemaGenerator().get_schema(request=None, public=True)["paths"])
    # HTML pages for people: the admin, the docs, the owners' sign-in pages (django-allauth).
    undocumented_on_purpose = ("admin/", "api/schema/", "api/docs/", "api/redoc/", "accounts/")
    expected = set()
    for route in _url_paths(get_resolver()):
        if route.startswith(undocumented_on_purpose):
            continue
        expected.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    assert expected, "no URL found"
    assert expected - documented == set()
    assert "/healthz" in documented


def test_docs_pages_load_nothing_from_another_host(client):
    for url in ("/api/docs/", "/api/redoc/"):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert re.findall(r"(?:src|href)=[\"']https?://", html) == []
        assert "/static/drf_spectacular_sidecar/" in html
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'self'"
        assert policy["img-src"] == "'self' data:"
        assert all("http" not in sources for sources in policy.values())


def test_the_one_remote_url_in_the_redoc_bundle_is_refused_by_the_policy():
    from django.contrib.staticfiles import finders

    bundle = finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")
    assert isinstance(bundle, str), "the redoc bundle is not among the static files"
    text = Path(bundle).read_text(encoding="utf-8")
    # Attributes that make a browser fetch: src=... in the bundle's React elements.
    remote = set(re.findall(r'src:"(https?://[^"]+)"', text))
    assert remote == {"https://cdn.redoc.ly/redoc/logo-mini.svg"}  # an <img>: img-src 'self'


def test_schema_endpoint_serves_openapi(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_every_operation_with_a_body_documents_413_and_415():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    with_body = [
        (path, method, sorted(operation["responses"]))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert ("/liveEvent", "post") in [(path, method) for path, method, _ in with_body]
    for path, method, statuses in with_body:
        assert {"413", "415"} <= set(statuses), (path, method)
    error = schema["components"]["schemas"]["ErrorOutput"]
    assert set(error["properties"]) == {"code", "detail"}


def test_every_operation_documents_the_400_of_a_nul_in_its_url(api_client):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]
    paths = {path for path, _, _ in operations}
    assert {"/api/royalties/runs", "/users", "/consolidated", "/webhook"} <= paths
    for path, method, operation in operations:
        assert "400" in operation["responses"], (path, method)
    # An operation without a 400 of its own gets the URL's; one with its own keeps it.
    runs = schema["paths"]["/api/royalties/runs"]["get"]["responses"]["400"]
    assert runs["description"] == "A NUL character (`%00`) in the URL: code `nul_character`."
    # The answer it documents, to a declared query parameter (found by schemathesis).
    response = api_client.get("/api/royalties/runs", {"page": "b\x00["})
    assert response.status_code == 400
    assert response.json()["code"] == "nul_character"
