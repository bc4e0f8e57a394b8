"""Input that used to be a 500 (NUL characters, deep nesting) is a 400, on both databases."""

import json

import pytest

from ingestion.models import Event

pytestmark = pytest.mark.django_db

GOOD = {"userId": "user1", "name": "add_revenue", "value": 98}
NUL_MESSAGE = ["Null characters are not allowed."]
NUL_IN_URL = {"code": "nul_character", "detail": "The URL may not contain NUL characters (%00)."}


@pytest.mark.parametrize("field", ["userId", "eventId"])
def test_nul_in_a_live_event_field_is_400(ingest_client, field):
    body = {**GOOD, field: "a\x00b"}
    response = ingest_client.post("/liveEvent", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {field: NUL_MESSAGE}
    assert Event.objects.count() == 0


def test_nul_in_the_idempotency_key_is_400(ingest_client):
    response = ingest_client.post("/liveEvent", GOOD, format="json", HTTP_IDEMPOTENCY_KEY="k\x00")
    assert response.status_code == 400
    assert response.json() == {"Idempotency-Key": NUL_MESSAGE}
    assert Event.objects.count() == 0


def test_nul_in_a_batch_item_is_400_and_stores_nothing(ingest_client):
    body = json.dumps([GOOD, {**GOOD, "userId": "\x00"}])
    response = ingest_client.post("/api/ingestion/events", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Item 1: Null characters are not allowed."]}
    assert Event.objects.count() == 0


def test_nul_or_deep_nesting_in_an_ndjson_line_rejects_that_line_only(ingest_client):
    deep = "[" * 5000 + "]" * 5000
    lines = [json.dumps(GOOD), json.dumps({**GOOD, "userId": "a\x00"}), deep]
    response = ingest_client.post(
        "/api/ingestion/events", "\n".join(lines), content_type="application/x-ndjson"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], [item["index"] for item in body["rejected"]]) == (1, [1, 2])
    assert body["rejected"][0]["errors"] == {
        "non_field_errors": ["Line 2 is not valid JSON: Null characters are not allowed."]
    }
    assert "depth" in body["rejected"][1]["errors"]["non_field_errors"][0]
    assert list(Event.objects.values_list("user_id", flat=True)) == ["user1"]


def test_deeply_nested_json_is_400_on_both_endpoints(ingest_client):
    deep = "[" * 100_000 + "]" * 100_000
    for url in ("/liveEvent", "/api/ingestion/events"):
        response = ingest_client.post(url, deep, content_type="application/json")
        assert response.status_code == 400, url
        assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("url", ["/userEvents/a%00b", "/users/a%00b", "/api/royalties/users/a%00b"])
def test_nul_in_a_path_is_400(ingest_client, operator_client, url):
    client = ingest_client if url.startswith("/userEvents") else operator_client
    response = client.get(url)
    assert response.status_code == 400
    assert response.json() == NUL_IN_URL
