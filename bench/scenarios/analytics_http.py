"""Analytics collect over HTTP: single events and 1,000-event batches, beside the ceiling."""

import json
import subprocess
import tempfile

from analytics.copy_rows import INSERT_COLUMNS
from bench.harness import ROOT, Harness
from bench.pgbench import copy_ceiling

NAME = "analytics_http"
DESCRIPTION = (
    "POST /api/analytics/collect with an x-api-key (one event per request, then 1,000-event "
    "JSON arrays) at 32 connections on the production server and PostgreSQL, beside the "
    "empty-view ceiling measured in the same run; the per-key rate limit is counted on every "
    "request (set high enough never to refuse). The batch is shown beside PostgreSQL's own "
    "rate of COPYing the same rows, also measured in the run."
)
BATCH_EVENTS = 1000
# Every request is counted by the limiter (its cost is in the figures) but none is refused.
SERVER_SETTINGS = {"ANALYTICS_COLLECT_RATE": "1000000000"}

_CREATE_APP = """
import json, django
django.setup()
from django.contrib.auth import get_user_model
from analytics.services import app_register
owner, _ = get_user_model().objects.get_or_create(username="bench-owner")
app, issued = app_register(owner=owner, name="bench", domain="https://bench.example")
print(json.dumps({"app_id": str(app.pk), "key": issued.raw}))
"""

SINGLE_SCRIPT = """
wrk.method = "POST"
wrk.headers["x-api-key"] = "KEY"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
function request()
  counter = counter + 1
  local body = string.format('{"event": "click", "userId": "user%d", "device": "mobile", '
    .. '"url": "https://example.com/p", "metadata": {"browser": "Chrome", "os": "Android"}}',
    counter % 5000)
  return wrk.format(nil, nil, nil, body)
end
"""

BATCH_SCRIPT = """
wrk.method = "POST"
wrk.headers["x-api-key"] = "KEY"
wrk.headers["Content-Type"] = "application/json"
local handle = io.open("PATH", "r")
wrk.body = handle:read("*a")
handle:close()
"""


def _reset(h: Harness) -> None:
    with h.connect() as conn:
        conn.execute(
            "TRUNCATE analytics_event, analytics_batch, analytics_dailycount, "
            "analytics_dailyuserset, analytics_userkey, analytics_userstat RESTART IDENTITY"
        )


def _stored(h: Harness) -> int:
    with h.connect() as conn:
        count: int = h.one(conn, "SELECT COUNT(*) FROM analytics_event")[0]
        return count


def app_create(h: Harness) -> dict:
    result = subprocess.run(
        [h.python, "-c", _CREATE_APP],
        cwd=ROOT,
        env=h.env({"DJANGO_SETTINGS_MODULE": "config.settings"}),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _copy_rows() -> str:
    """The batch's 1,000 events as the rows collect COPYs for them (COPY's text format)."""
    app, stamp = "00000000-0000-4000-8000-000000000001", "2026-12-07T12:00:00.250000+00:00"
    return "".join(
        f"{app}\tevent{i % 20}\t\t\tdesktop\t127.0.0.1\tuser{i}\tu:user{i}\t\t\t\\N\t"
        f"{stamp}\t2026-12-07\t{stamp}\n"
        for i in range(BATCH_EVENTS)
    )


def run(h: Harness) -> dict:
    ceiling = h.ceiling(connections=32)
    figures: dict = {"ceiling_empty_view": ceiling}
    h.prepare()
    _reset(h)
    key = app_create(h)["key"]
    with h.server(env=SERVER_SETTINGS) as base:
        single = h.wrk(
            base + "/api/analytics/collect",
            script=SINGLE_SCRIPT.replace("KEY", key),
            connections=32,
        )
    figures["collect_single"] = {
        **single,
        "vs_ceiling": round(single["requests_per_s"] / ceiling["requests_per_s"], 3),
        "events_stored": _stored(h),
    }
    _reset(h)
    key = app_create(h)["key"]
    body = json.dumps(
        [
            {"event": f"event{i % 20}", "userId": f"user{i}", "device": "desktop"}
            for i in range(BATCH_EVENTS)
        ]
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        handle.write(body)
        handle.flush()
        with h.server(env=SERVER_SETTINGS) as base:
            batch = h.wrk(
                base + "/api/analytics/collect",
                script=BATCH_SCRIPT.replace("KEY", key).replace("PATH", handle.name),
                connections=32,
            )
    stored = _stored(h)
    _reset(h)
    copying = copy_ceiling(
        h, table="analytics_event", columns=INSERT_COLUMNS, text=_copy_rows(), rows=BATCH_EVENTS
    )
    events_per_s = round(batch["requests_per_s"] * BATCH_EVENTS)
    figures["ceiling_copy"] = copying
    figures["collect_batch"] = {
        **batch,
        "events_per_request": BATCH_EVENTS,
        "events_per_s": events_per_s,
        "events_stored": stored,
        "vs_copy_ceiling": (
            round(events_per_s / copying["rows_per_s"], 3) if copying.get("rows_per_s") else None
        ),
    }
    figures["targets"] = {
        "collect_vs_ceiling": 0.30,
        "collect_p99_ms": 15,
        "batch_events_per_s": 200_000,
    }
    figures["notes"] = (
        "202 means committed. Each single collect: the secret compared with the hash the "
        "process keeps of the key, then one statement shared with the single events its web "
        "process received meanwhile (decision 0074): the key read live (so a revoked key is "
        "refused at once), the rate-limit counter raised by the group's size, the events "
        "stored up to the limit; then the batcher's in-flight check. A batch: the key read live "
        "and the request counted in one statement, then one COPY (a plain batch parsed by "
        "msgspec straight into its rows, decision 0078). ceiling_copy is PostgreSQL alone "
        "(pgbench, 32 clients, each transaction one COPY of the same 1,000 rows from a file the "
        "server reads, and its commit: no HTTP, no Python, no client sending the rows). "
        "No worker runs: the "
        "first threshold crossing enqueues one task and the in-flight lock keeps later "
        "requests to one cache read. events_stored counts rows after the run, warm-up "
        "included."
    )
    return figures
