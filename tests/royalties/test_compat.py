"""The compat endpoints keep the original service's paths, keys and number types."""

import pytest

from royalties import selectors
from tests.royalties.factories import STREAMS, TRACKS, TRACKS_AS_PUBLISHED, USERS, consolidate

pytestmark = pytest.mark.django_db

NO_RUN = {"code": "not_found", "detail": "No consolidation run has succeeded yet."}


@pytest.mark.parametrize(
    "path", ["/report", "/revenue", "/users", "/users/7699007", "/consolidated"]
)
def test_404_before_any_run(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response.json() == NO_RUN


def test_report_revenue_and_user(api_client):
    consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)

    report = api_client.get("/report")
    assert report.status_code == 200
    assert report.content == b'{"label 1":72.73,"label 2":32.9,"label 3":73.31}'
    assert api_client.get("/revenue").json() == {"revenue": 178.94}
    assert api_client.get("/users/7699007").json() == {"User": "7699007", "Total Streamed": 250460}
    unknown = api_client.get("/users/0000000")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


def test_report_serves_the_latest_succeeded_run(api_client):
    consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)
    consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)

    assert api_client.get("/report").json() == {"label 1": 65.96, "label 2": 32.9, "label 3": 73.31}


def test_report_and_user_are_one_statement_each(api_client, django_assert_num_queries):
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)
    selectors._label_amounts.cache_clear()
    selectors._label_amounts_as_numbers.cache_clear()

    # The first read of a run's report also reads its labels; later reads only the run's key.
    with django_assert_num_queries(2):
        first = api_client.get("/report")
    with django_assert_num_queries(1):
        again = api_client.get("/report")
    assert first.content == again.content == b'{"label 1":72.73,"label 2":32.9,"label 3":73.31}'
    assert again["Content-Type"] == "application/json"
    with django_assert_num_queries(1):
        user = api_client.get("/users/2373846")
    assert user.json() == {"User": "2373846", "Total Streamed": 65673}
    with django_assert_num_queries(1):
        unknown = api_client.get("/users/0000000")
    assert unknown.status_code == 404
    detail = f"User 0000000 is not in run {run.pk}."
    assert unknown.json() == {"code": "not_found", "detail": detail}


def test_users_list_is_paginated(api_client, django_assert_num_queries):
    consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)

    with django_assert_num_queries(3):
        response = api_client.get("/users?page_size=2")
    body = response.json()
    assert body["count"] == 20
    assert body["next"] == "http://testserver/users?page=2&page_size=2"
    assert body["previous"] is None
    assert body["results"] == [
        {"User": "2361235", "Total Streamed": 328822},
        {"User": "2373846", "Total Streamed": 65673},
    ]


def test_consolidated_entries_are_paginated_with_their_user_and_track(
    api_client, django_assert_num_queries
):
    consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)

    with django_assert_num_queries(5):
        response = api_client.get("/consolidated?page_size=3")
    body = response.json()
    assert body["count"] == 76
    assert body["results"] == [
        {
            "date": "2019-03-01",
            "user_id": "7699007",
            "product_type": "premium",
            "fee": 7.99,
            "origin": "app_store",
            "region": "US",
            "track_id": "71700f062f1e57e4d2beea5b9db11b7b",
            "track_name": None,
            "track_label": None,
            "seconds": 2263,
        },
        {
            "date": "2019-03-01",
            "user_id": "8273161",
            "product_type": "platinum",
            "fee": 14.99,
            "origin": "web",
            "region": "NL",
            "track_id": "71f4ca0346edbe5327af3885e2253928",
            "track_name": "track name 2",
            "track_label": "label 1",
            "seconds": 6445,
        },
        {
            "date": "2019-03-01",
            "user_id": "2373846",
            "product_type": "premium",
            "fee": 7.99,
            "origin": "app_store",
            "region": "NL",
            "track_id": "4c13ba007f89a425f2117885f90375ea",
            "track_name": "track name 3",
            "track_label": "label 1",
            "seconds": 6448,
        },
    ]
