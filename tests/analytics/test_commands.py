"""manage.py commands of the analytics domain."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from analytics.admission import api_key_verify
from analytics.models import ApiKey, App, DailyCount, Event
from analytics.services import events_process_pending
from tests.analytics.factories import OwnerFactory, registered_app


def _call(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_app_prints_a_working_key_once(db):
    OwnerFactory(username="ann")
    out, err = _call(
        "create_analytics_app", "--owner", "ann", "--name", "Shop", "--domain", "https://s.example"
    )
    app = App.objects.get()
    raw = out.split("apiKey: ")[1].strip()
    assert f"appId: {app.pk}" in out
    identity = api_key_verify(raw=raw)
    assert identity is not None
    assert identity.app_id == app.pk
    assert raw not in ApiKey.objects.get().hashed_key
    assert "shown only now" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner", "nobody", "--name", "x", "--domain", "https://x.example"], "no such user"),
        (["--owner", "ann", "--name", " ", "--domain", "https://x.example"], "--name"),
        (["--owner", "ann", "--name", "x", "--domain", "nope"], "--domain"),
    ],
)
def test_create_app_refuses_bad_input(db, args, message):
    OwnerFactory(username="ann")
    with pytest.raises(CommandError, match=message):
        _call("create_analytics_app", *args)
    assert not App.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batch", ["1", "3"])
def test_send_file_then_process(live_server, tmp_path, batch):
    app, raw = registered_app(OwnerFactory())
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps({"event": "click", "userId": f"u{i % 3}", "device": "mobile"}) for i in range(7)
    ]
    lines.insert(2, "{broken")
    lines.insert(4, json.dumps({"event": ""}))
    path.write_text("\n".join(lines) + "\n")
    out, err = _call(
        "send_analytics", str(path), "--url", live_server.url, "--api-key", raw, "--batch", batch,
        "--concurrency", "3",
    )  # fmt: skip
    assert out.strip() == "sent: 7, rejected: 2, failed: 0"
    assert "line 3: not valid JSON" in err
    assert "line 5: event:" in err
    assert Event.objects.filter(app=app).count() == 7
    out, _ = _call("process_analytics")
    assert out.strip() == "processed 7 events; 0 pending"
    assert DailyCount.objects.get().count == 7


@pytest.mark.django_db(transaction=True)
def test_send_with_a_revoked_key_fails_with_non_zero_exit(live_server, tmp_path):
    app, raw = registered_app(OwnerFactory())
    ApiKey.objects.filter(app=app).update(revoked_at=app.created_at)
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"event": "click"}) + "\n")
    with pytest.raises(CommandError, match="1 events were not delivered"):
        _call("send_analytics", str(path), "--url", live_server.url, "--api-key", raw)
    assert not Event.objects.exists()


def test_send_refuses_a_missing_file_and_bad_options(tmp_path, db):
    with pytest.raises(CommandError, match="no such file"):
        _call("send_analytics", str(tmp_path / "none"), "--api-key", "k")
    (tmp_path / "f").write_text("")
    with pytest.raises(CommandError, match="--batch"):
        _call("send_analytics", str(tmp_path / "f"), "--api-key", "k", "--batch", "0")


def test_rebuild_rollups_verify_reports_and_repair_fixes(db):
    app, _ = registered_app(OwnerFactory())
    from analytics.services import events_collect
    from analytics.validation import event_validate

    event, _ = event_validate({"event": "click", "userId": "u1"}, client_ip="10.0.0.1")
    assert event is not None
    events_collect(app_id=app.pk, events=[event, event])
    events_process_pending()
    out, _ = _call("rebuild_rollups", "--verify")
    assert "every rollup matches the event log" in out
    DailyCount.objects.update(count=5)
    with pytest.raises(CommandError, match="2 rollup rows differ"):
        _call("rebuild_rollups", "--verify")
    out, _ = _call("rebuild_rollups")
    assert "rebuilt (2 rows differed)" in out
    assert DailyCount.objects.get().count == 2
    out, _ = _call("rebuild_rollups", "--verify")
    assert "every rollup matches" in out
