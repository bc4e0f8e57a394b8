"""The platform's JSON parser and renderer (orjson): refusals are 400s, output is unchanged."""

import datetime
import json
from decimal import Decimal
from uuid import UUID

import pytest
from django.test import override_settings
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from core.api.parsers import NulCharacterError, json_loads
from core.api.renderers import JSONRenderer

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]

DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB: a RecursionError (500) with the json module


def test_deeply_nested_json_is_400_not_a_recursion_error(api_client):
    response = api_client.post("/echo", data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "depth" in response.json()["detail"]


def test_nesting_within_the_limit_is_parsed(api_client):
    body = "[" * 1000 + "]" * 1000
    response = api_client.post("/echo", data=body, content_type="application/json")
    assert response.status_code == 200


@pytest.mark.parametrize("body", ["NaN", '{"a": Infinity}', '{"a": -Infinity}', "[1,]", ""])
def test_nan_infinity_and_malformed_are_400(api_client, body):
    response = api_client.post("/echo", data=body or " ", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_nul_in_a_string_is_400_naming_the_field(api_client):
    body = '{"name": "a\\u0000b", "ok": "fine", "deep": {"x": ["\\u0000"]}}'
    response = api_client.post("/echo", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "name": ["Null characters are not allowed."],
        "deep": ["Null characters are not allowed."],
    }


def test_nul_in_a_key_or_an_array_item_is_400(api_client):
    response = api_client.post("/echo", data='{"a\\u0000": 1}', content_type="application/json")
    assert response.json() == {"a\x00": ["Null characters are not allowed."]}
    response = api_client.post("/echo", data='["ok", "\\u0000"]', content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Item 1: Null characters are not allowed."]}


def test_an_escaped_backslash_before_u0000_is_no_nul(api_client):
    body = json.dumps({"a": "\\u0000"})  # the six characters \u0000, not a NUL
    response = api_client.post("/echo", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"echo": {"a": "\\u0000"}}


def test_json_loads_keeps_integers_exact_and_refuses_nul():
    assert json_loads(b'{"v": 9007199254740991, "f": 1.5}') == {"v": 2**53 - 1, "f": 1.5}
    assert type(json_loads(b"10")) is int
    assert type(json_loads(b"10.0")) is float
    with pytest.raises(NulCharacterError):
        json_loads('"\\u0000"')


@override_settings(DEFAULT_CHARSET="utf-8")
def test_latin1_body_is_decoded_by_its_charset(api_client):
    body = '{"a": "café"}'.encode("latin-1")
    response = api_client.post("/echo", data=body, content_type="application/json; charset=latin-1")
    assert response.json() == {"echo": {"a": "café"}}


@pytest.mark.parametrize(
    "data",
    [
        {"when": datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)},
        {"day": datetime.date(2026, 1, 2), "uuid": UUID(int=7), "money": Decimal("1.10")},
        {"text": "line\u2028separator\u2029é", "n": None, "list": [1, 2.5, True]},
        {"big": 2**70, "negative": -(2**70)},
        {1: "int key"},
    ],
)
def test_renderer_writes_what_drf_wrote(data):
    assert JSONRenderer().render(data) == DRFJSONRenderer().render(data)


def test_renderer_indents_on_request():
    body = JSONRenderer().render({"a": 1}, "application/json; indent=4")
    assert json.loads(body) == {"a": 1}
    assert b"\n" in body
    assert JSONRenderer().render(None) == b""
