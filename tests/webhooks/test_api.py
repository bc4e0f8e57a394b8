"""The webhooks HTTP API: submission (both paths), status, redelivery, mock-provider settings."""

import uuid

import pytest

from tests.webhooks.factories import collection_make
from webhooks.models import CollectionRequest, MockProvider, ProviderFetch
from webhooks.work import work_settle

pytestmark = pytest.mark.django_db

SUBMIT_PATHS = ["/webhook", "/api/webhooks/collections"]
GOOD = {"provider": ["gas", "internet"], "callbackUrl": "https://callback.example/hook"}


@pytest.mark.parametrize("path", SUBMIT_PATHS)
def test_submit_answers_202_at_once_and_queues_the_work(
    api_client, path, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(path, GOOD, format="json")
    assert response.status_code == 202
    body = response.json()
    request = CollectionRequest.objects.get()
    assert body == {
        "id": str(request.pk),
        "status": "collecting",
        "providers": ["gas", "internet"],
        "status_url": f"http://testserver/api/webhooks/collections/{request.pk}",
    }
    assert request.pk.version == 4
    assert sorted(ProviderFetch.objects.values_list("provider", "state", "attempts")) == [
        ("gas", "pending", 0),
        ("internet", "pending", 0),
    ]
    # The drain task is enqueued once the request is committed.
    assert enqueued == [("core.batching.batcher_run_task", "webhooks.work.WORK_BATCHER")]


@pytest.mark.parametrize(
    ("provider", "stored"),
    [("gas", ["gas"]), (["internet", "gas", "internet"], ["internet", "gas"])],
)
def test_a_single_name_or_a_list_with_duplicates_collapsed(api_client, provider, stored):
    response = api_client.post("/webhook", {**GOOD, "provider": provider}, format="json")
    assert response.status_code == 202
    assert response.json()["providers"] == stored
    assert CollectionRequest.objects.get().providers == stored


BAD = [
    ({"callbackUrl": GOOD["callbackUrl"]}, {"provider": ["This field is required."]}),
    ({"provider": "gas"}, {"callbackUrl": ["This field is required."]}),
    ({**GOOD, "provider": "water"}, {"provider": ["Unknown provider: 'water'."]}),
    (
        {**GOOD, "provider": ["gas", "water", "oil"]},
        {"provider": ["Unknown provider: 'water', 'oil'."]},
    ),
    (
        {**GOOD, "provider": []},
        {"provider": ["Must be a provider name or a non-empty list of provider names."]},
    ),
    (
        {**GOOD, "provider": 7},
        {"provider": ["Must be a provider name or a non-empty list of provider names."]},
    ),
    (
        {**GOOD, "provider": ["gas", 1]},
        {"provider": ["Must be a provider name or a non-empty list of provider names."]},
    ),
    ({**GOOD, "provider": None}, {"provider": ["This field may not be null."]}),
    ({**GOOD, "callbackUrl": "not a url"}, {"callbackUrl": ["Enter a valid URL."]}),
    ({**GOOD, "callbackUrl": 5}, {"callbackUrl": ["Not a valid string."]}),
    (
        {**GOOD, "callbackUrl": "ftp://callback.example/x"},
        {"callbackUrl": ["The callback URL must be an absolute http(s) URL."]},
    ),
    (
        {**GOOD, "callbackUrl": "https://nowhere.example/x"},
        {"callbackUrl": ["The callback host 'nowhere.example' does not resolve."]},
    ),
    ({**GOOD, "callbak": "x"}, {"callbak": ["Unknown field."]}),
    ([GOOD], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
]


@pytest.mark.parametrize("path", SUBMIT_PATHS)
@pytest.mark.parametrize(("body", "errors"), BAD)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    api_client, path, body, errors, enqueued
):
    response = api_client.post(path, body, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert not CollectionRequest.objects.exists()
    assert enqueued == []


def test_form_bodies_are_415(api_client):
    response = api_client.post("/webhook", {"provider": "gas"})
    assert response.status_code == 415


def test_submit_is_rate_limited_per_client_address(api_client, settings):
    settings.WEBHOOKS_SUBMIT_RATE = 3
    codes = [api_client.post("/webhook", GOOD, format="json").status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    other = api_client.post("/webhook", GOOD, format="json", REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 202
    refused = api_client.post("/webhook", GOOD, format="json")
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert CollectionRequest.objects.count() == 4


def test_status_of_an_unknown_id_is_404(api_client):
    response = api_client.get(f"/api/webhooks/collections/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No collection request with this id."}


def test_status_shows_fetches_delivery_and_every_attempt(api_client, outside, driven):
    outside.receiver.script = [500]
    MockProvider.objects.create(name="gas", failure_rate=0, latency_ms=0)
    request = collection_make(providers=("gas",))
    work_settle()
    body = api_client.get(f"/api/webhooks/collections/{request.pk}").json()
    assert body["status"] == "delivered"
    assert body["fetches"][0]["provider"] == "gas"
    assert body["fetches"][0]["state"] == "fetched"
    assert [a["outcome"] for a in body["fetches"][0]["attempts"]] == ["succeeded"]
    delivery = body["delivery"]
    assert delivery["state"] == "delivered"
    assert delivery["webhook_id"].startswith("msg_")
    assert [(a["number"], a["outcome"], a["status_code"]) for a in delivery["attempts"]] == [
        (1, "retry", 500),
        (2, "succeeded", 200),
    ]


def test_status_read_costs_a_fixed_number_of_queries(
    api_client, outside, driven, django_assert_num_queries
):
    request = collection_make()
    work_settle()
    with django_assert_num_queries(3):
        assert api_client.get(f"/api/webhooks/collections/{request.pk}").status_code == 200


def test_redeliver_needs_a_token_and_the_permission(api_client, make_client):
    request = collection_make()
    url = f"/api/webhooks/collections/{request.pk}/redeliver"
    assert api_client.post(url).status_code == 401
    assert make_client().post(url).status_code == 403


def test_redeliver_sends_the_same_message_again(outside, driven, make_client):
    request = collection_make()
    work_settle()
    client = make_client(perms=("webhooks.change_delivery",))
    url = f"/api/webhooks/collections/{request.pk}/redeliver"
    response = client.post(url)
    assert response.status_code == 202
    assert response.json()["status"] == "delivering"
    assert response.json()["delivery"]["state"] == "pending"
    assert client.post(url).json()["code"] == "delivering"
    work_settle()
    first, second = outside.receiver.calls
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    request.refresh_from_db()
    assert request.status == "delivered"


def test_redeliver_while_collecting_is_409_and_unknown_is_404(make_client):
    client = make_client(superuser=True)
    request = collection_make()
    response = client.post(f"/api/webhooks/collections/{request.pk}/redeliver")
    assert (response.status_code, response.json()["code"]) == (409, "not_ready")
    response = client.post(f"/api/webhooks/collections/{uuid.uuid4()}/redeliver")
    assert response.status_code == 404


def test_mock_provider_settings_read_and_changed_with_permissions(api_client, make_client):
    url = "/api/webhooks/mock-providers/gas"
    assert api_client.get(url).status_code == 401
    assert make_client().get(url).status_code == 403
    reader = make_client(perms=("webhooks.view_mockprovider",))
    assert reader.get(url).json() == {
        "name": "gas",
        "failure_rate": 0.5,
        "outage_until": None,
        "latency_ms": 0,
    }
    change = {"failure_rate": 0.2, "outage_until": "2030-01-01T00:00:00Z", "latency_ms": 15}
    assert reader.put(url, change, format="json").status_code == 403
    writer = make_client(perms=("webhooks.change_mockprovider", "webhooks.view_mockprovider"))
    response = writer.put(url, change, format="json")
    assert response.status_code == 200
    assert response.json() == {"name": "gas", **change}
    assert reader.get(url).json() == {"name": "gas", **change}
    row = MockProvider.objects.get(name="gas")
    assert (row.failure_rate, row.latency_ms) == (0.2, 15)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"failure_rate": 1.5, "outage_until": None, "latency_ms": 0},
            {"failure_rate": ["Ensure this value is less than or equal to 1."]},
        ),
        (
            {"failure_rate": "0.5", "outage_until": None, "latency_ms": 0},
            {"failure_rate": ["A valid number is required."]},
        ),
        (
            {"failure_rate": 0, "outage_until": None, "latency_ms": -1},
            {"latency_ms": ["Ensure this value is greater than or equal to 0."]},
        ),
        ({"failure_rate": 0, "latency_ms": 0}, {"outage_until": ["This field is required."]}),
    ],
)
def test_mock_provider_bad_settings_are_400(operator_client, body, errors):
    response = operator_client.put("/api/webhooks/mock-providers/gas", body, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert not MockProvider.objects.exists()


def test_unknown_mock_provider_settings_are_404(operator_client):
    assert operator_client.get("/api/webhooks/mock-providers/water").status_code == 404
    body = {"failure_rate": 0, "outage_until": None, "latency_ms": 0}
    put = operator_client.put("/api/webhooks/mock-providers/water", body, format="json")
    assert put.status_code == 404


def test_submit_query_budget(api_client, django_assert_num_queries, settings):
    # PostgreSQL: two statements, the rate-limit upsert and the request with its fetch rows
    # (one statement, webhooks.sql). SQLite: the upsert, the request row and the fetch rows
    # (one INSERT), plus the four savepoints the test's own transaction makes of the two
    # atomic blocks (BEGIN/COMMIT in production). The drain trigger runs after commit.
    with django_assert_num_queries(2 if settings.IS_POSTGRES else 7):
        response = api_client.post("/webhook", GOOD, format="json")
    assert response.status_code == 202
