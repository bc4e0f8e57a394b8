import io
import json
import re

from rest_framework.test import APIClient

from analytics.demo import DEMO_APP, FIXTURE, demo_load
from analytics.models import App, DailyCount, Event
from analytics.selectors import event_pending_count


def test_demo_loads_once_and_processes(db):
    first, second = io.StringIO(), io.StringIO()
    demo_load(stdout=first)
    demo_load(stdout=second)
    assert "API key ak_" in first.getvalue()
    assert "already loaded" in second.getvalue()
    assert "API key" not in second.getvalue()
    assert App.objects.filter(name=DEMO_APP).count() == 1
    assert Event.objects.count() == 60
    assert event_pending_count() == 0
    assert sum(DailyCount.objects.values_list("count", flat=True)) == 60


def test_the_printed_owner_token_reads_the_demo_app(db):
    out = io.StringIO()
    demo_load(stdout=out)
    token = re.search(r"demo-owner's API token (\w+) reads Demo shop", out.getvalue())
    assert token is not None
    again = io.StringIO()
    demo_load(stdout=again)
    assert f"API token {token[1]} reads" in again.getvalue()  # the same token at every start
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token[1]}")
    response = client.get("/api/analytics/event-summary", {"event": "signup"})
    assert response.status_code == 200
    signups = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    assert response.json()["count"] == sum(item["event"] == "signup" for item in signups) == 12
