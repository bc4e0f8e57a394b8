"""GET /api/schema/: built and rendered once per process for each format, then served as is."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.api import views


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """How many times the schema was generated (the generator itself runs unchanged)."""
    monkeypatch.setattr(views, "_SCHEMAS", {})
    calls: list[int] = []
    generate = SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        calls.append(1)
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    return calls


def test_the_schema_is_built_once_per_format_and_served_identically(client, builds):
    first = client.get("/api/schema/")
    again = client.get("/api/schema/")
    assert builds == [1]
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert dict(again.headers) == dict(first.headers)
    assert first["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert first["Content-Disposition"] == 'inline; filename="Streaming back office API.yaml"'
    as_json = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert builds == [1, 1]
    assert as_json["Content-Type"] == "application/vnd.oai.openapi+json"
    assert as_json.json()["paths"]["/healthz"]["get"]["operationId"] == "healthz"
    assert client.get("/api/schema/?format=json").content == as_json.content
    assert builds == [1, 1]  # the same format, asked for another way


def test_a_refused_method_is_still_json_and_nothing_is_kept(client, builds):
    response = client.post("/api/schema/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert views._SCHEMAS == {}
    assert builds == []
