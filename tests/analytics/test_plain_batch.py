"""A plain batch is read from the body straight into COPY's rows (``analytics.plain_batch``,
decision 0078): it must accept nothing the usual way refuses, and store the same rows."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.copy_rows import copy_text
from analytics.models import Event
from analytics.plain_batch import plain_rows
from analytics.validation import event_validate
from core.api.parsers import json_loads

NOW = datetime(2026, 12, 7, 12, 0, 0, 250_000, tzinfo=UTC)
CLIENT_IP = "203.0.113.9"
APP = "0b8e6f4e-8d3c-4a44-9d39-63f2c1a0f001"
RECEIVED = "2026-12-07T12:00:01+00:00"


def _usual(body: bytes) -> bytes | None:
    """The COPY text the usual way stores for ``body``, or None when it refuses an item (or
    the body) or would not take it as a batch of two or more."""
    try:
        items = json_loads(body)
    except ValueError:
        return None
    if not isinstance(items, list) or not 2 <= len(items) <= 1000:
        return None
    results = [event_validate(item, client_ip=CLIENT_IP, now=NOW) for item in items]
    if any(errors for _, errors in results):
        return None
    return copy_text([event for event, _ in results], app=APP, received=RECEIVED)


def _plain(body: bytes) -> bytes | None:
    rows = plain_rows(body, client_ip=CLIENT_IP, now=NOW)
    return None if rows is None else rows.copy_text(app=APP, received=RECEIVED)


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` four times in five: most generated batches are then valid."""
    return st.one_of(valid, valid, valid, valid, invalid)


VALID_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1)
TEXT = mostly(
    VALID_TEXT.filter(lambda t: len(t) <= 255) | st.sampled_from(["é" * 255, "🎵" * 255]),
    st.sampled_from(["x" * 256, "", "a\tb", "back\\slash", "cr\r", "\\N", "nul\x00"]),
)
SCALAR = mostly(
    TEXT | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=2**63) | st.booleans() | st.none(),
)
OPTIONAL: dict[str, Any] = {
    "userId": mostly(TEXT, st.none() | st.integers()),
    "device": mostly(
        st.sampled_from(["mobile", "desktop", "tablet", "other", None]), st.sampled_from(["", 1])
    ),
    "url": mostly(
        st.sampled_from(["https://example.com/p", "", "http://ref.example/a?b=c", None]),
        st.sampled_from(["not a url", "ftp://x.org", "https://x.org/\t", 3]),
    ),
    "referrer": mostly(st.sampled_from(["https://example.com/r", None]), st.just("//x")),
    "timestamp": mostly(
        st.sampled_from(["2026-12-05T23:30:00+01:00", "2026-12-05 10:00", None]),
        st.sampled_from(["2030-01-01T00:00:00Z", "bad", 5]),
    ),
    "ipAddress": mostly(
        st.sampled_from(["10.0.0.1", "2001:DB8::1", "::1", None]), st.sampled_from(["999.1.1.1", 7])
    ),
    "metadata": mostly(
        st.dictionaries(TEXT, SCALAR, max_size=3) | st.just({"browser": "Firefox", "os": "Linux"}),
        st.sampled_from([{"nested": {"a": 1}}, [], "x", {"long": "y" * 9000}]),
    ),
    "other": st.just(1),
}
ITEM = mostly(
    st.fixed_dictionaries({"event": TEXT}, optional=OPTIONAL).filter(lambda i: "other" not in i)
    | st.fixed_dictionaries({"event": TEXT}, optional=OPTIONAL),
    st.sampled_from([{}, [], "click", {"event": None}]),
)


@settings(max_examples=400, deadline=None)
@given(items=st.lists(ITEM, min_size=2, max_size=4), ascii_only=st.booleans())
def test_a_batch_it_reads_is_stored_as_the_usual_way_stores_it(items, ascii_only):
    # json.dumps, not orjson: integers beyond 64 bits, and non-ASCII spelt as \u escapes.
    body = json.dumps(items, ensure_ascii=ascii_only).encode()
    plain = _plain(body)
    if plain is not None:
        assert plain == _usual(body)


PLAIN_ITEM = st.fixed_dictionaries(
    {"event": st.sampled_from(["click", "view", "ünïcødé ✓"])},
    optional={
        "userId": st.sampled_from(["u1", "user 2", None]),
        "device": st.sampled_from(["mobile", "desktop", "tablet", "other", None]),
        "url": st.sampled_from(["https://example.com/p", ""]),
        "timestamp": st.sampled_from(["2026-12-05T23:30:00+01:00", "2026-12-06T01:02:03"]),
        "ipAddress": st.sampled_from(["10.0.0.1", "2001:DB8::1"]),
        "metadata": st.sampled_from([{}, {"browser": "Firefox", "os": "Linux", "n": 1.5}]),
    },
)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(PLAIN_ITEM, min_size=2, max_size=6))
def test_plain_batches_are_read_by_it(items):
    body = json.dumps(items).encode()
    assert _plain(body) is not None
    assert _plain(body) == _usual(body)


@pytest.mark.parametrize(
    "body",
    [
        b'[{"event": "a"}]',  # one event: the single event's way
        b"[]",
        b'[{"event": "a"}, {"event": "b"}] x',
        b'[{"event": "a\\u0000"}, {"event": "b"}]',
        b'[{"event": "\\ud800"}, {"event": "b"}]',
        b'[{"event": "a", "metadata": {"big": 18446744073709551615}}, {"event": "b"}]',
        b'[{"event": "a", "metadata": {"deep": {"x": 1}}}, {"event": "b"}]',
        b'[{"event": "a\\tb"}, {"event": "b"}]',
        b'[{"event": "a", "extra": 1}, {"event": "b"}]',
        b'[{"event": "a", "device": "phone"}, {"event": "b"}]',
        b'[{"event": "a", "url": "not a url"}, {"event": "b"}]',
        b'[{"event": "a", "timestamp": "2099-01-01T00:00:00Z"}, {"event": "b"}]',
        b'{"event": "a"}',
    ],
)
def test_it_leaves_to_the_usual_way_what_is_not_a_plain_batch(body):
    assert _plain(body) is None


def test_more_than_the_batch_limit_is_left_to_the_usual_way():
    body = json.dumps([{"event": "a"}] * 3).encode()
    assert _plain(body) is not None
    with override_settings(ANALYTICS_MAX_BATCH=2):
        assert _plain(body) is None


@pytest.fixture
def plain_calls(monkeypatch) -> list[bool]:
    """Whether each collect request's body was read by the plain path."""
    calls: list[bool] = []

    def recording(body: bytes, **kwargs: Any):
        rows = plain_rows(body, **kwargs)
        calls.append(rows is not None)
        return rows

    monkeypatch.setattr("analytics.api.collect.plain_rows", recording)
    return calls


BATCH = [
    {"event": "click", "userId": "u1", "url": "https://example.com/p", "timestamp": "2026-12-06"},
    {"event": "view", "timestamp": "2026-12-05T23:30:00+01:00", "ipAddress": "2001:DB8::1"},
    {
        "event": "buy",
        "userId": "u2",
        "metadata": {"browser": "Firefox", "os": "Linux", "n": 2},
        "device": "mobile",
        "timestamp": "2026-12-07T10:00:00.5Z",
    },
]
COLUMNS = (
    "event", "url", "referrer", "device", "ip_address", "user_id", "user_key", "browser", "os",
    "metadata", "timestamp", "day",
)  # fmt: skip


@pytest.mark.postgres_only
def test_through_the_endpoint_it_stores_what_the_parser_s_way_stores(collect_client, plain_calls):
    # The same batch twice: as application/json (read by the plain path), then with a charset
    # spelling the plain path leaves to the parser; the stored rows are the same.
    url = "/api/analytics/collect"
    body = json.dumps(BATCH)
    first = collect_client.post(url, body, content_type="application/json")
    second = collect_client.post(url, body, content_type="application/json; charset=UTF8")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() == {"accepted": 3, "rejected": []}
    assert plain_calls == [True]  # the second never reached it
    rows = list(Event.objects.order_by("id").values_list(*COLUMNS))
    assert rows[:3] == rows[3:]
    assert rows[1][4:7] == ("2001:db8::1", None, "i:2001:db8::1")
    assert rows[2][7:10] == ("Firefox", "Linux", {"browser": "Firefox", "os": "Linux", "n": 2})


@pytest.mark.postgres_only
def test_a_batch_with_one_bad_item_is_answered_per_item(collect_client, plain_calls):
    response = collect_client.post("/api/analytics/collect", [*BATCH, {"event": ""}], format="json")
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 3,
        "rejected": [{"index": 3, "errors": {"event": ["This field may not be blank."]}}],
    }
    assert plain_calls == [False]
    assert Event.objects.count() == 3


def test_it_serves_postgresql_only(collect_client, plain_calls):
    # SQLite stores a batch by multi-row INSERTs of clean events: the usual way only.
    response = collect_client.post("/api/analytics/collect", BATCH, format="json")
    assert response.json() == {"accepted": 3, "rejected": []}
    assert plain_calls == ([True] if connection.vendor == "postgresql" else [])
    assert Event.objects.count() == 3


@pytest.mark.postgres_only
def test_a_plain_batch_costs_the_statements_the_usual_way_costs(
    collect_client, plain_calls, django_assert_num_queries
):
    # The key live and the request counted, then the writer lock in the insert's transaction
    # (a savepoint and its release here, inside the test's transaction); the COPY itself goes
    # through psycopg's own cursor, past Django's query log.
    url, body = "/api/analytics/collect", json.dumps(BATCH)
    collect_client.post(url, body, content_type="application/json")  # the key now remembered
    with django_assert_num_queries(4):
        usual = collect_client.post(url, body, content_type="application/json; charset=UTF8")
    with django_assert_num_queries(4):
        plain = collect_client.post(url, body, content_type="application/json")
    assert usual.json() == plain.json() == {"accepted": 3, "rejected": []}
    assert plain_calls == [True, True]
