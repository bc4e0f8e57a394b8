"""The HTTP contract: secret check, strict validation, idempotency, the batch endpoint."""

import json

import pytest
from rest_framework.test import APIClient

from ingestion.models import Event, UserRevenue
from ingestion.selectors import event_pending_count
from ingestion.services import credential_id, events_process_pending

pytestmark = pytest.mark.django_db

GOOD = {"userId": "user1", "name": "add_revenue", "value": 98}


def _post(client: APIClient, body, **headers):
    return client.post("/liveEvent", json.dumps(body), content_type="application/json", **headers)


def test_live_event_stores_one_committed_event(ingest_client):
    response = _post(ingest_client, {**GOOD, "extra": {"ignored": True}})

    assert response.status_code == 201
    event = Event.objects.get()
    assert response.json() == {"id": str(event.pk), "status": "accepted"}
    assert (event.user_id, event.name, event.value, event.amount) == (
        "user1",
        "add_revenue",
        98,
        98,
    )
    assert event_pending_count() == 1
    assert event.idempotency_key is None
    assert event.credential == credential_id(secret="secret")


def test_subtract_event_has_negative_amount(ingest_client):
    _post(ingest_client, {"userId": "u", "name": "subtract_revenue", "value": 5})
    assert Event.objects.get().amount == -5


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Secret", "secret ", " secret", "Bearer secret", "Token secret", "wrong"],
)
def test_wrong_or_missing_secret_is_401_and_stores_nothing(authorization):
    client = APIClient()
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    live = _post(client, GOOD, **headers)
    batch = client.post("/api/ingestion/events", [GOOD], format="json", **headers)
    read = client.get("/userEvents/user1", **headers)

    assert (live.status_code, batch.status_code, read.status_code) == (401, 401, 401)
    assert Event.objects.count() == 0


def test_any_configured_secret_is_accepted_and_recorded_by_hash(settings):
    settings.INGESTION_SECRETS = ["old-secret", "new-secret"]
    for secret in ("old-secret", "new-secret"):
        response = _post(APIClient(), GOOD, HTTP_AUTHORIZATION=secret)
        assert response.status_code == 201
    assert _post(APIClient(), GOOD, HTTP_AUTHORIZATION="secret").status_code == 401
    assert sorted(Event.objects.values_list("credential", flat=True)) == sorted(
        [credential_id(secret="old-secret"), credential_id(secret="new-secret")]
    )
    assert not Event.objects.filter(credential__in=["old-secret", "new-secret"]).exists()


BAD_EVENTS = [
    ({**GOOD, "value": 1.5}, {"value": ["Must be a JSON integer."]}),
    ({**GOOD, "value": 10.0}, {"value": ["Must be a JSON integer."]}),
    ({**GOOD, "value": "10"}, {"value": ["Must be a JSON integer."]}),
    ({**GOOD, "value": True}, {"value": ["Must be a JSON integer."]}),
    ({**GOOD, "value": None}, {"value": ["This field may not be null."]}),
    ({**GOOD, "value": -1}, {"value": ["Must be between 0 and 9007199254740991."]}),
    ({**GOOD, "value": 2**53}, {"value": ["Must be between 0 and 9007199254740991."]}),
    ({**GOOD, "name": "add"}, {"name": ['Must be "add_revenue" or "subtract_revenue".']}),
    ({**GOOD, "name": "ADD_REVENUE"}, {"name": ['Must be "add_revenue" or "subtract_revenue".']}),
    ({**GOOD, "userId": ""}, {"userId": ["This field may not be blank."]}),
    (
        {**GOOD, "userId": "u" * 256},
        {"userId": ["Ensure this field has no more than 255 characters."]},
    ),
    ({**GOOD, "userId": 7}, {"userId": ["Must be a string."]}),
    (
        {**GOOD, "eventId": "k" * 256},
        {"eventId": ["Ensure this field has no more than 255 characters."]},
    ),
    ({**GOOD, "eventId": 5}, {"eventId": ["Must be a string."]}),
    (
        {},
        {
            "userId": ["This field is required."],
            "name": ["This field is required."],
            "value": ["This field is required."],
        },
    ),
    ([GOOD], {"non_field_errors": ["Expected a JSON object with userId, name and value."]}),
    ("text", {"non_field_errors": ["Expected a JSON object with userId, name and value."]}),
]


@pytest.mark.parametrize(("body", "errors"), BAD_EVENTS)
def test_bad_event_is_400_with_field_errors_and_stores_nothing(ingest_client, body, errors):
    response = _post(ingest_client, body)

    assert response.status_code == 400
    assert response.json() == errors
    assert Event.objects.count() == 0


def test_boundary_values_are_accepted(ingest_client):
    for value in (0, 2**53 - 1):
        assert _post(ingest_client, {**GOOD, "value": value}).status_code == 201
    assert _post(ingest_client, {**GOOD, "userId": "u" * 255}).status_code == 201
    assert sorted(Event.objects.values_list("value", flat=True)) == [0, 98, 2**53 - 1]


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        ('{"userId": "u", "name": "add_revenue", "value": 1', "application/json", 400),
        ('{"userId": "u", "name": "add_revenue", "value": NaN}', "application/json", 400),
        ("", "application/json", 400),
        ("userId=u&name=add_revenue&value=1", "application/x-www-form-urlencoded", 415),
        ('{"userId": "u", "name": "add_revenue", "value": 1}', "text/plain", 415),
    ],
)
def test_malformed_or_non_json_body_is_rejected(ingest_client, raw, content_type, status):
    response = ingest_client.post("/liveEvent", raw, content_type=content_type)
    assert response.status_code == status
    assert Event.objects.count() == 0


def test_body_over_the_limit_is_413(ingest_client, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = _post(ingest_client, {**GOOD, "userId": "u" * 200})
    assert response.status_code == 413
    assert Event.objects.count() == 0


def test_bad_idempotency_header_is_400(ingest_client):
    response = _post(ingest_client, GOOD, HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400
    assert response.json() == {"Idempotency-Key": ["Must be between 1 and 255 characters."]}
    assert Event.objects.count() == 0


def test_repeat_with_same_key_answers_200_with_original_id(ingest_client):
    first = _post(ingest_client, GOOD, HTTP_IDEMPOTENCY_KEY="line-1")
    again = _post(ingest_client, {**GOOD, "value": 5}, HTTP_IDEMPOTENCY_KEY="line-1")
    other = _post(ingest_client, GOOD, HTTP_IDEMPOTENCY_KEY="line-2")

    assert first.status_code == 201
    original = first.json()["id"]
    assert again.status_code == 200
    assert again.json() == {"id": original, "status": "accepted", "duplicate": True}
    assert other.status_code == 201
    assert Event.objects.count() == 2
    assert Event.objects.get(pk=original).value == 98


def test_event_id_is_the_key_and_takes_precedence_over_the_header(ingest_client):
    first = _post(ingest_client, {**GOOD, "eventId": "e-1"}, HTTP_IDEMPOTENCY_KEY="h-1")
    by_event_id = _post(ingest_client, {**GOOD, "eventId": "e-1"}, HTTP_IDEMPOTENCY_KEY="h-2")
    by_header = _post(ingest_client, GOOD, HTTP_IDEMPOTENCY_KEY="h-1")

    assert first.status_code == 201
    assert by_event_id.status_code == 200
    assert by_event_id.json()["id"] == first.json()["id"]
    assert by_header.status_code == 201  # "h-1" was never stored: eventId won
    assert Event.objects.count() == 2


def test_same_key_from_another_credential_is_a_new_event(settings):
    settings.INGESTION_SECRETS = ["a", "b"]
    for secret in ("a", "b"):
        response = _post(APIClient(), GOOD, HTTP_AUTHORIZATION=secret, HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 201
    assert Event.objects.count() == 2


def test_user_events_reports_processed_total_and_pending(ingest_client):
    assert ingest_client.get("/userEvents/user1").status_code == 404
    _post(ingest_client, GOOD)
    _post(ingest_client, {"userId": "user1", "name": "subtract_revenue", "value": 100})
    assert ingest_client.get("/userEvents/user1").json() == {
        "user_id": "user1",
        "revenue": 0,
        "pending_events": 2,
    }

    events_process_pending()
    _post(ingest_client, {**GOOD, "value": 1})

    response = ingest_client.get("/userEvents/user1")
    assert response.status_code == 200
    assert response.json() == {"user_id": "user1", "revenue": -2, "pending_events": 1}
    assert ingest_client.get("/userEvents/user2").status_code == 404


def test_batch_json_array_reports_per_item_results(ingest_client):
    body = [
        GOOD,
        {**GOOD, "value": -1},
        {"userId": "user2", "name": "subtract_revenue", "value": 3, "eventId": "b-1"},
        {"userId": "user2", "name": "add_revenue", "value": 3, "eventId": "b-1"},
        "nope",
    ]
    response = ingest_client.post("/api/ingestion/events", body, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 2,
        "duplicates": 1,
        "rejected": [
            {"index": 1, "errors": {"value": ["Must be between 0 and 9007199254740991."]}},
            {
                "index": 4,
                "errors": {
                    "non_field_errors": ["Expected a JSON object with userId, name and value."]
                },
            },
        ],
    }
    assert sorted(Event.objects.values_list("user_id", "amount")) == [("user1", 98), ("user2", -3)]

    again = ingest_client.post("/api/ingestion/events", body[2:3], format="json")
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert Event.objects.count() == 2


def test_batch_ndjson_skips_blank_lines_and_rejects_bad_lines(ingest_client):
    body = (
        '{ "userId": "user1", "name": "add_revenue", "value": 98 }\r\n'
        "\n"
        "   \n"
        "{not json\n"
        '{"userId": "user2", "name": "add_revenue", "value": 2}\n'
        '{"userId": "user2", "name": "add_revenue", "value": true}'
    )
    response = ingest_client.post(
        "/api/ingestion/events", body, content_type="application/x-ndjson"
    )

    assert response.status_code == 200
    data = response.json()
    assert (data["accepted"], data["duplicates"]) == (2, 0)
    assert [item["index"] for item in data["rejected"]] == [1, 3]
    assert data["rejected"][0]["errors"]["non_field_errors"][0].startswith(
        "Line 4 is not valid JSON"
    )
    assert data["rejected"][1]["errors"] == {"value": ["Must be a JSON integer."]}
    assert Event.objects.count() == 2


def test_batch_header_key_makes_a_resent_batch_a_duplicate(ingest_client):
    body = [GOOD, {**GOOD, "userId": "user2"}]
    first = ingest_client.post(
        "/api/ingestion/events", body, format="json", HTTP_IDEMPOTENCY_KEY="b"
    )
    again = ingest_client.post(
        "/api/ingestion/events", body, format="json", HTTP_IDEMPOTENCY_KEY="b"
    )

    assert first.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    keys = Event.objects.values_list("idempotency_key", flat=True)
    assert sorted(key or "" for key in keys) == ["b:0", "b:1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"userId": "u"}, "Expected a JSON array of events or an NDJSON body."),
        ([GOOD] * 4, "At most 3 events per batch, got 4."),
    ],
)
def test_batch_not_a_list_or_too_long_is_400(ingest_client, settings, body, message):
    settings.INGESTION_MAX_BATCH = 3
    response = ingest_client.post("/api/ingestion/events", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [message]}
    assert Event.objects.count() == 0


def test_batch_wrong_content_type_is_415(ingest_client):
    response = ingest_client.post("/api/ingestion/events", "a,b", content_type="text/csv")
    assert response.status_code == 415
    assert Event.objects.count() == 0


def test_batch_of_many_events_uses_a_fixed_number_of_queries(
    ingest_client, django_assert_max_num_queries
):
    body = [{"userId": f"u{i % 10}", "name": "add_revenue", "value": i} for i in range(2500)]
    with django_assert_max_num_queries(8):
        response = ingest_client.post("/api/ingestion/events", body, format="json")
    assert response.json()["accepted"] == 2500
    events_process_pending()
    assert sum(UserRevenue.objects.values_list("revenue", flat=True)) == sum(range(2500))
