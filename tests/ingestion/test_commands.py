"""The management commands: the client against a live server, processing, rebuild."""

import io

import pytest
import requests
from django.core.management import CommandError, call_command

from ingestion.client import base_url, line_key
from ingestion.models import Event, UserRevenue
from tests.ingestion.factories import EventFactory


def _call(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _totals() -> dict[str, int]:
    return dict(UserRevenue.objects.values_list("user_id", "revenue"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batch", [None, "2"])
def test_fixture_sent_twice_then_processed_gives_the_original_totals(
    live_server, fixture_path, batch
):
    extra = ["--batch", batch] if batch else []
    args = ["send_events", str(fixture_path), "--url", live_server.url, "--secret", "secret"]

    out, _ = _call(*args, "--concurrency", "4", *extra)
    assert out.strip() == "sent: 5, duplicates: 0, rejected: 0, failed: 0"
    out, _ = _call("process_events", "--all")
    assert out.strip() == "processed 5 events"
    assert _totals() == {"user1": 27, "user2": 58}

    out, _ = _call(*args, *extra)
    assert out.strip() == "sent: 0, duplicates: 5, rejected: 0, failed: 0"
    _call("process_events", "--all")
    assert _totals() == {"user1": 27, "user2": 58}
    assert Event.objects.count() == 5
    _call("rebuild_revenue", "--verify")


@pytest.mark.django_db(transaction=True)
def test_invalid_lines_are_reported_with_their_number_and_skipped(live_server, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{ "userId": "a", "name": "add_revenue", "value": 3 }\r\n'
        "\r\n"
        "{oops\n"
        '{"userId": "a", "name": "add_revenue", "value": -3}\n'
        '{"userId": "b", "name": "subtract_revenue", "value": 2}'
    )
    out, err = _call("send_events", str(path), "--url", live_server.url, "--secret", "secret")

    assert out.strip() == "sent: 2, duplicates: 0, rejected: 2, failed: 0"
    assert err.splitlines()[0].startswith("line 3: not valid JSON")
    assert err.splitlines()[1] == "line 4: value: Must be between 0 and 9007199254740991."
    assert sorted(Event.objects.values_list("user_id", "amount")) == [("a", 3), ("b", -2)]


@pytest.mark.django_db(transaction=True)
def test_wrong_secret_fails_with_non_zero_exit(live_server, fixture_path):
    with pytest.raises(CommandError, match="5 events were not delivered"):
        _call(
            "send_events",
            str(fixture_path),
            "--url",
            live_server.url,
            "--secret",
            "nope",
        )
    assert Event.objects.count() == 0


def test_connection_errors_and_5xx_are_retried_with_the_same_key(
    monkeypatch, fixture_path, tmp_path
):
    path = tmp_path / "one.jsonl"
    path.write_text('{"userId": "a", "name": "add_revenue", "value": 3}\n')
    seen: list = []

    class Reply:
        def __init__(self, status: int) -> None:
            self.status_code = status
            self.text = ""

        def json(self) -> dict:
            return {"id": "1", "status": "accepted"}

    def fake_post(self, url, data, headers, timeout):
        seen.append(headers["Idempotency-Key"])
        if len(seen) == 1:
            raise requests.ConnectionError("refused")
        return Reply(503 if len(seen) == 2 else 201)

    monkeypatch.setattr(requests.Session, "post", fake_post)
    out, _ = _call(
        "send_events",
        str(path),
        "--url",
        "http://x",
        "--secret",
        "s",
        "--backoff",
        "0",
        "--source-id",
        "demo",
    )
    assert out.strip() == "sent: 1, duplicates: 0, rejected: 0, failed: 0"
    key = line_key(
        source_id="demo", number=1, text='{"userId": "a", "name": "add_revenue", "value": 3}'
    )
    assert seen == [key, key, key]


def test_giving_up_counts_as_failed(monkeypatch, tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text('{"userId": "a", "name": "add_revenue", "value": 3}\n')

    def refused(self, url, data, headers, timeout):
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(requests.Session, "post", refused)
    with pytest.raises(CommandError, match="1 events were not delivered"):
        _call(
            "send_events",
            str(path),
            "--url",
            "http://x",
            "--secret",
            "s",
            "--retries",
            "2",
            "--backoff",
            "0",
        )


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        _call("send_events", str(tmp_path / "nope.jsonl"), "--secret", "s")


@pytest.mark.django_db
def test_process_events_one_batch_and_all():
    EventFactory.create_batch(5)
    out, _ = _call("process_events", "--claim", "2")
    assert out.strip().endswith("2 events of 2 users; 3 still pending")
    out, _ = _call("process_events", "--all", "--claim", "2")
    assert out.strip() == "processed 3 events"
    out, _ = _call("process_events")
    assert out.strip() == "nothing pending"


@pytest.mark.django_db
def test_rebuild_revenue_verify_reports_and_repair_fixes():
    EventFactory(user_id="user1", value=5, amount=5)
    _call("process_events", "--all")
    UserRevenue.objects.filter(user_id="user1").update(revenue=9)

    with pytest.raises(CommandError, match="1 users differ"):
        _call("rebuild_revenue", "--verify")
    out, _ = _call("rebuild_revenue")
    assert out.splitlines() == ["user1: stored 9, from the log 5", "repaired 1 users"]
    out, _ = _call("rebuild_revenue", "--verify")
    assert out.strip() == "every total matches the event log"


@pytest.mark.parametrize(
    ("typed", "base"),
    [
        ("http://host:8000", "http://host:8000"),
        ("http://host:8000/", "http://host:8000"),
        ("http://host:8000/liveEvent", "http://host:8000"),
        ("http://host:8000/liveEvent/", "http://host:8000"),
        ("http://host:8000/api/ingestion/events", "http://host:8000"),
        ("http://host/prefix/liveEvent", "http://host/prefix"),
    ],
)
def test_send_events_takes_a_base_url_or_the_full_endpoint(typed, base):
    assert base_url(typed) == base


@pytest.mark.django_db(transaction=True)
def test_send_events_to_the_full_endpoint_url(live_server, fixture_path):
    url = live_server.url + "/liveEvent"
    out, err = _call("send_events", str(fixture_path), "--url", url, "--secret", "secret")
    assert out.strip() == "sent: 5, duplicates: 0, rejected: 0, failed: 0"
    assert err == ""


def test_send_events_reports_a_non_json_answer_without_dumping_it(monkeypatch, tmp_path):
    page = requests.Response()
    page.status_code, page._content = 404, b"<html>" + b"x" * 500 + b"</html>"
    page.headers["Content-Type"] = "text/html"
    monkeypatch.setattr(requests.Session, "post", lambda *args, **kwargs: page)
    events = tmp_path / "e.jsonl"
    events.write_text('{"userId": "u", "name": "add_revenue", "value": 1}\n')
    out = io.StringIO()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "send_events", str(events), "--url", "http://x", "--secret", "s", stdout=out, stderr=err
        )
    assert err.getvalue().strip() == "line 1: HTTP 404 (text/html, not the API's JSON)"
