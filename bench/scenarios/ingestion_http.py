"""Ingestion over HTTP: POST /liveEvent and the batch endpoint, beside the empty-view ceiling."""

import json
import tempfile

from bench.harness import SERVER_ENV, Harness
from bench.pgbench import durable_insert_ceiling

NAME = "ingestion_http"
DESCRIPTION = (
    "POST /liveEvent (one event per request, a distinct Idempotency-Key each) and POST "
    "/api/ingestion/events (1,000-event JSON arrays) at 32 connections on the production "
    "server and PostgreSQL, beside the empty-view ceiling measured in the same run."
)
SECRET = SERVER_ENV["INGESTION_SECRETS"]
BATCH_EVENTS = 1000

# Each wrk thread numbers its requests; the thread id keeps keys distinct across threads.
LIVE_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  thread_id = id
end
local body = '{"userId": "user%d", "name": "add_revenue", "value": 7}'
function request()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Authorization"] = "%s",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. os.time() .. "-" .. thread_id .. "-" .. counter,
  }, string.format(body, counter %% 1000))
end
""".replace("%s", SECRET)


# A script rather than h.wrk(headers=...): the body is large and read once from a file.
BATCH_SCRIPT = """
wrk.method = "POST"
wrk.headers["Authorization"] = "%s"
wrk.headers["Content-Type"] = "application/json"
local handle = io.open("PATH", "r")
wrk.body = handle:read("*a")
handle:close()
""".replace("%s", SECRET)
# Also measured with many more workers than cores, to show that more processes do not help here.
WORKER_COUNTS = (None, 16)


# The row /liveEvent inserts, as PostgreSQL's own reference inserts it (pgbench).
DURABLE_ROW = (
    "DEFAULT, 'user' || :client_id, 'add_revenue', 7, 7, "
    "'bench-' || :client_id || '-' || random(), 'abcdef0123456789', now(), DEFAULT"
)


def _ratio(value: float, reference: float | None) -> float | None:
    return round(value / reference, 3) if reference else None


def _reset(h: Harness) -> None:
    with h.connect() as conn:
        conn.execute("TRUNCATE ingestion_event, ingestion_batch, users_revenue RESTART IDENTITY")


def _stored_events(h: Harness) -> int:
    with h.connect() as conn:
        count: int = h.one(conn, "SELECT COUNT(*) FROM ingestion_event")[0]
        return count


def run(h: Harness) -> dict:
    ceiling = h.ceiling(connections=32)
    figures: dict = {"ceiling_empty_view": ceiling}
    h.prepare()
    _reset(h)
    durable = durable_insert_ceiling(h, table="ingestion_event", values=DURABLE_ROW)
    figures["ceiling_durable_insert"] = durable
    for workers in WORKER_COUNTS:
        with h.server(workers=workers) as base:
            live = h.wrk(base + "/liveEvent", script=LIVE_SCRIPT.replace("%%", "%"), connections=32)
        figures[f"live_event_workers_{workers or 'default'}"] = {
            **live,
            "vs_ceiling": round(live["requests_per_s"] / ceiling["requests_per_s"], 3),
            "vs_durable_insert": _ratio(live["requests_per_s"], durable.get("commits_per_s")),
            "events_stored": _stored_events(h),
        }
        _reset(h)

    body = json.dumps(
        [
            {"userId": f"user{i % 1000}", "name": "add_revenue", "value": i}
            for i in range(BATCH_EVENTS)
        ]
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        handle.write(body)
        handle.flush()
        with h.server() as base:
            batch = h.wrk(
                base + "/api/ingestion/events",
                script=BATCH_SCRIPT.replace("PATH", handle.name),
                connections=32,
            )
    figures["batch_endpoint"] = {
        **batch,
        "events_per_request": BATCH_EVENTS,
        "events_per_s": round(batch["requests_per_s"] * BATCH_EVENTS),
        "events_stored": _stored_events(h),
    }
    figures["notes"] = (
        "Both endpoints commit before answering (201/200 means the events are in PostgreSQL). "
        "ceiling_durable_insert is PostgreSQL alone (pgbench, 32 clients, no HTTP, no Python) "
        "inserting the same row into a copy of the events table, one commit per row: the most "
        "a durable one-event-per-request endpoint can reach on this machine in this run; "
        "vs_durable_insert is /liveEvent's rate as a fraction of it. "
        "Measured serially in one process, one /liveEvent costs about 2.4 ms: the INSERT and "
        "its commit about 0.7 ms, the batcher's in-flight check (a read of the database cache; "
        "a Redis read when REDIS_URL is set) about 1 ms, the rest Django and DRF. The 2 cores "
        "are shared by the 2 web workers, PostgreSQL and wrk, so more workers (16: lower and "
        "erratic) or more threads per worker (docs/decisions/0001-web-server.md) do not raise "
        "the rate; the empty-view ceiling does no database work at all. events_stored counts "
        "rows after the run, warm-up included. No worker runs: the first threshold crossing "
        "enqueues one task and the in-flight lock keeps later requests to one cache read."
    )
    return figures
