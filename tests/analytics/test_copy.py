"""A batch of events is stored by COPY in its text format, written by
``analytics.copy_rows.copy_text``: whatever text an event carries is stored exactly as sent (on
SQLite the batch is a multi-row INSERT, held to the same answers)."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from analytics.copy_rows import copy_text
from analytics.models import Event
from analytics.validation import event_validate

NOW = datetime(2026, 12, 6, 12, 0, 0, 250_000, tzinfo=UTC)
APP = "0b8e6f4e-8d3c-4a44-9d39-63f2c1a0f001"


def _clean(data: dict, *, client_ip: str = "203.0.113.9"):
    event, errors = event_validate(data, client_ip=client_ip, now=NOW)
    assert errors == {}
    return event


def test_plain_events_are_one_line_each_with_null_markers():
    events = [
        _clean({"event": "click", "userId": "u1", "device": "mobile"}),
        _clean(
            {
                "event": "view",
                "url": "https://example.com/p",
                "timestamp": "2026-12-05T23:30:00+01:00",
                "metadata": {"browser": "Firefox", "os": "Linux"},
            }
        ),
    ]
    text = copy_text(events, app=APP, received="2026-12-06T12:00:01+00:00")
    assert text.decode().splitlines() == [
        f"{APP}\tclick\t\t\tmobile\t203.0.113.9\tu1\tu:u1\t\t\t\\N\t"
        "2026-12-06T12:00:00.250000+00:00\t2026-12-06\t2026-12-06T12:00:01+00:00",
        f"{APP}\tview\thttps://example.com/p\t\t\t203.0.113.9\t\\N\ti:203.0.113.9\tFirefox\tLinux\t"
        '{"browser":"Firefox","os":"Linux"}\t'
        "2026-12-05T22:30:00+00:00\t2026-12-05\t2026-12-06T12:00:01+00:00",
    ]


def test_a_batch_with_a_character_the_format_escapes_is_escaped_whole():
    events = [
        _clean({"event": "plain", "userId": "u1"}),
        _clean({"event": "tab\there", "userId": "line\nbreak"}),
        _clean({"event": "cr\r", "userId": "\\N", "metadata": {"quote": 'say "hi"'}}),
    ]
    lines = copy_text(events, app=APP, received="r").decode().split("\n")
    assert lines[3] == ""  # the final newline
    assert [line.split("\t")[1:3] for line in lines[:3]] == [
        ["plain", ""],
        ["tab\\there", ""],
        ["cr\\r", ""],
    ]
    assert [line.split("\t")[6] for line in lines[:3]] == ["u1", "line\\nbreak", "\\\\N"]
    assert lines[2].split("\t")[10] == '{"quote":"say \\\\"hi\\\\""}'


HOSTILE: list[dict[str, Any]] = [
    {"event": "tab\there", "userId": "a\\b"},
    {"event": "newline\nhere", "userId": "\\N"},
    {"event": "return\rhere", "userId": "\\\\N"},
    {"event": "ünïcødé ✓ 🎵", "userId": "\\t literally"},
    {"event": "plain", "metadata": {"q": 'a "quoted" \\ value', "browser": "B\tx", "os": "\n"}},
    {"event": "plain"},
    {"event": "x" * 255, "userId": "y" * 255, "url": "https://example.com/a\\b"},
]


@pytest.mark.postgres_only
@pytest.mark.parametrize("plain_first", [True, False])
def test_hostile_text_is_stored_exactly_as_sent(collect_client, plain_first):
    # The batch is COPYed whether its first rows are plain or not; each field reads back as sent.
    items = ([{"event": "first"}] if plain_first else []) + HOSTILE
    response = collect_client.post("/api/analytics/collect", items, format="json")
    assert response.json() == {"accepted": len(items), "rejected": []}
    columns = ("event", "user_id", "url", "metadata", "browser", "os")
    stored = list(Event.objects.order_by("id").values_list(*columns))
    expected = [
        (
            item["event"],
            item.get("userId"),
            item.get("url", ""),
            item.get("metadata"),
            item.get("metadata", {}).get("browser", ""),
            item.get("metadata", {}).get("os", ""),
        )
        for item in items
    ]
    assert stored == expected


@pytest.mark.postgres_only
def test_copy_text_is_what_postgresql_reads(db):
    # The same rows through COPY into a scratch table of the same columns, read back as text.
    events = [_clean(item) for item in HOSTILE]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE copied (app_id uuid, event text, url text, referrer text, "
            "device text, ip_address inet, user_id text, user_key text, browser text, os text, "
            "metadata jsonb, timestamp timestamptz, day date, received_at timestamptz)"
        )
        with cursor.cursor.copy("COPY copied FROM STDIN") as copy:
            copy.write(copy_text(events, app=APP, received=NOW.isoformat()))
        cursor.execute("SELECT event, user_id, user_key, timestamp, day, app_id FROM copied")
        rows = cursor.fetchall()
    assert rows == [
        (e.event, e.user_id, e.user_key, e.timestamp, e.timestamp.date(), uuid.UUID(APP))
        for e in events
    ]


# Any text a JSON string can carry (no NUL, which is refused; no lone surrogate, which JSON
# parsing refuses), mixed with the characters COPY's text format treats specially.
TEXT = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_characters="\x00"),
        st.sampled_from(["\\", "\t", "\n", "\r", "\\N", "\\."]),
    ),
    min_size=1,
    max_size=12,
).map("".join)
ITEMS = st.lists(
    st.fixed_dictionaries(
        {"event": TEXT},
        optional={
            "userId": TEXT,
            "device": st.sampled_from(["mobile", "desktop", "tablet", "other"]),
            "metadata": st.dictionaries(TEXT, TEXT, max_size=2),
        },
    )
    | st.just({"event": ""}),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(items=ITEMS)
def test_any_batch_is_stored_exactly_as_its_items_were_validated(app_and_key, items):
    # Through the endpoint (on PostgreSQL: the COPY written by copy_text), read back column by
    # column against the validated events.
    Event.objects.all().delete()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=app_and_key[1])
    response = client.post("/api/analytics/collect", items, format="json")
    assert response.status_code == 202
    good = [e for e in (event_validate(i, client_ip="127.0.0.1")[0] for i in items) if e]
    assert response.json()["accepted"] == len(good)
    assert len(response.json()["rejected"]) == len(items) - len(good)
    columns = ("event", "user_id", "user_key", "device", "browser", "os", "metadata")
    stored = list(Event.objects.order_by("id").values_list(*columns))
    assert stored == [
        (e.event, e.user_id, e.user_key, e.device, e.browser, e.os, _metadata(e.metadata_json))
        for e in good
    ]


def _metadata(text: str | None) -> Any:
    return None if text is None else json.loads(text)
