"""Demo data: an owner, one app and a few days of sample events, processed (idempotent).

The app's key is printed the first time only (keys are shown once); regenerate it through the
API or create another app with ``manage.py create_analytics_app`` to get one later.
"""

import json
from pathlib import Path
from typing import TextIO

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from analytics.models import App, Event
from analytics.services import app_register, events_collect, events_process_pending
from analytics.validation import event_validate

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo" / "events.jsonl"
DEMO_OWNER = "demo-owner"
DEMO_APP = "Demo shop"


def demo_load(*, stdout: TextIO) -> None:
    owner, _ = get_user_model().objects.get_or_create(
        username=DEMO_OWNER, defaults={"email": "demo-owner@example.com"}
    )
    app = App.objects.filter(owner=owner, name=DEMO_APP).first()
    if app is None:
        app, issued = app_register(owner=owner, name=DEMO_APP, domain="https://example.com")
        stdout.write(f"analytics: demo app {app.pk}, API key {issued.raw} (shown once)\n")
    # The app's reads are the owner's: its token is printed at every start, as the operator's.
    token, _ = Token.objects.get_or_create(user=owner)
    stdout.write(
        f"analytics: {DEMO_OWNER}'s API token {token.key} reads {DEMO_APP} "
        "(GET /api/analytics/event-summary?event=signup)\n"
    )
    if Event.objects.filter(app=app).exists():
        stdout.write("analytics: demo events already loaded\n")
        return
    events = []
    for number, line in enumerate(FIXTURE.read_text().splitlines(), start=1):
        event, errors = event_validate(json.loads(line), client_ip="127.0.0.1")
        if event is None:
            raise ValueError(f"{FIXTURE}:{number}: {errors}")
        events.append(event)
    events_collect(app_id=app.pk, events=events)
    events_process_pending()
    stdout.write(f"analytics: {len(events)} demo events added to {DEMO_APP}\n")
